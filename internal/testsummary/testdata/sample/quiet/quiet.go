package quiet
