"""Drop-in recorders for users' own trainers (verl, TRL, OpenRLHF) that log what ``score`` needs."""
