"""Running sample-forge's heavy stages beyond one process: :mod:`sample_forge.scale.ray_data` (a Ray
cluster through Ray Data). Ray is the optional extra ``sample-forge[ray]``."""
