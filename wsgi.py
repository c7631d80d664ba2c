from privacy_saas import create_app

app = create_app()
