"""The framework floor: a bare Flask app under the same gunicorn, for the SCIM load benchmark.

It answers the benchmark's four request shapes with no database, no authentication and no
work, so its throughput is what Flask + gunicorn + the benchmark client reach on this
machine before any application code runs: no Flask application can beat it.
"""
from flask import Flask, request

app = Flask(__name__)


@app.post("/v2/Users")
def create():
    request.get_data()
    return {"id": "0"}, 201


@app.get("/v2/Users")
def search():
    return {"totalResults": 1, "Resources": []}


@app.patch("/v2/Users/<user_id>")
def patch(user_id):
    request.get_data()
    return {"id": user_id}


@app.delete("/v2/Users/<user_id>")
def delete(user_id):
    return "", 204
