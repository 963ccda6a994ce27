"""Shoots docs/viewer.png: ``viewer.py --path pretrained/fashion-mnist-stylegan2-32px.npz`` in headless chromium
(Debian's, as the browser test drives it), a 3 x 4 grid of seeds from 7 at psi 0.7, the first SeFa direction at +2.

    .venv/bin/python docs/make_viewer_png.py
"""
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODEL = os.path.join(REPO, "pretrained", "fashion-mnist-stylegan2-32px.npz")
PORT = 7871
SETTINGS = (("rows", 3), ("cols", 4), ("seed", 7), ("psi", 0.7), ("sefa0", 2))


def main():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    server = subprocess.Popen([sys.executable, os.path.join(REPO, "viewer.py"), "--path", MODEL, "--port", str(PORT)],
                              cwd=REPO)
    url = f"http://127.0.0.1:{PORT}/"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "api/checkpoints", timeout=5)
                break
            except OSError:
                time.sleep(1)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,800"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            for element_id, value in SETTINGS:
                wait_idle(driver)
                driver.execute_script(
                    "const e = document.getElementById(arguments[0]); if (!e) return; e.value = arguments[1];"
                    "e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change'));", element_id,
                    str(value))
            wait_idle(driver)
            driver.save_screenshot(os.path.join(HERE, "viewer.png"))
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait()
    print(f"wrote {os.path.join(HERE, 'viewer.png')}")


def wait_idle(driver, timeout=600):
    """Until no request is in flight and an image is shown (the first render compiles kernels)."""
    end = time.time() + timeout
    while time.time() < end:
        if driver.execute_script("return document.body.dataset.inflight === '0' && "
                                 "!!document.getElementById('image').dataset.query"):
            return
        time.sleep(0.2)
    raise TimeoutError("the viewer page did not settle")


if __name__ == "__main__":
    main()
