"""Test-session hooks: a loud last line when the browser tests could not run."""

from __future__ import annotations


def pytest_unconfigure(config):
    """After pytest's own summary line, so that it is the last thing a user sees."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "browser" in getattr(r, "keywords", {})]
    if not skipped:
        return
    bar = "!" * 78
    terminalreporter.write_line("")
    terminalreporter.write_line(bar, red=True, bold=True)
    terminalreporter.write_line(
        f"!! {len(skipped)} BROWSER TESTS WERE SKIPPED: headless Chromium or chromedriver is missing,", red=True, bold=True
    )
    terminalreporter.write_line(
        "!! so no page of the built book was opened. To run them: sudo apt-get install chromium", red=True, bold=True
    )
    terminalreporter.write_line(
        "!! chromium-driver (Debian/Ubuntu), or run `bash .ci/run`, which installs them first.", red=True, bold=True
    )
    terminalreporter.write_line(bar, red=True, bold=True)
