from sample_forge.cli.main import cli

cli()
