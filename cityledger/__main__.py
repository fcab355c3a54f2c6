from cityledger.cli import app

app()
