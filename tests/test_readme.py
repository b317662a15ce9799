"""The README opens with the setup and test commands (its code blocks run in test_docs.py)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_starts_with_setup_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert "proxymat optimize" in blocks[0] and "pip install" in blocks[0]
    assert "pytest" in blocks[1]
