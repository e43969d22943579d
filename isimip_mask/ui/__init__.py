"""The page's parts (``streamlit_app.py`` lays them out): the widgets (``picker``, ``region``,
``job``, ``state``) and what only the page uses: the map (``mapview``), pictures of results
(``quicklook``), size estimates (``estimates``) and the commands that reproduce a result
(``reproduce``). Every rule they show (regions, plans, job states, URLs) lives below.

May import: everything below the doors; nothing else in the package imports streamlit.
"""
