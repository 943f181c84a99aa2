"""The Style Trial domain: pure Python (standard library and pydantic only).

Nothing here imports Temporal or SQLAlchemy; a test enforces it. The workflow holds a `Trial` and asks it
every rule question; activities carry out the requests it produces.
"""
