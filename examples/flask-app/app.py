"""A one-page Flask site for Berth's second example."""
import platform
from importlib.metadata import version

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return f"Hello from Flask {version('flask')} on Python {platform.python_version()} in a Berth container\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
