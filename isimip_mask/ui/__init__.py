"""The page's parts (``streamlit_app.py`` lays them out): Streamlit widgets only; every rule
they show (regions, plans, estimates, job states, URLs) lives in the package."""
