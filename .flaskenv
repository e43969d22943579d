# Read by `flask run` in this folder (python-dotenv); settings themselves go into .env.
FLASK_APP=isimip_mask.api:create_app
