from wallet_cli.main import app

app(prog_name="wallet")
