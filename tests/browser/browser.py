"""Chromium under Selenium for the browser tests and the screenshots.

Debian's chromium and chromedriver, headless, a fresh profile per browser.
"""

import json
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]

__all__ = ["Browser", "By", "Keys", "TimeoutException"]


class Browser:
    """One Chromium with its own profile, sized width x height."""

    def __init__(self, base_url, width=1280, height=800, dark=False, mobile=False, lang="en-US"):
        self.base_url = base_url.rstrip("/")
        self.profile = tempfile.mkdtemp(prefix="msgr-chrome-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for f in FLAGS:
            opts.add_argument(f)
        opts.add_argument(f"--user-data-dir={self.profile}")
        # The browser's languages: navigator.languages and Accept-Language.
        opts.add_argument(f"--lang={lang}")
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
        opts.add_argument(f"--window-size={width},{height}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_window_size(width, height)
        self.driver.set_script_timeout(30)
        self.logs = []
        if mobile:
            self.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        self.set_dark(dark)

    # ---- the page -----------------------------------------------------------

    def set_dark(self, dark):
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
        )

    def resize(self, width, height):
        self.driver.set_window_size(width, height)

    def viewport(self, width, height, mobile=False, scale=1):
        """Makes the page's viewport exactly width x height CSS pixels."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
        )

    def open(self, path="/"):
        self.driver.get(self.base_url + path)

    def reload(self):
        self.collect_logs()
        self.driver.refresh()

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def js_async(self, script, *args):
        return self.driver.execute_async_script(script, *args)

    def wait(self, predicate, timeout=15, message="condition"):
        """Waits until predicate(driver) is true (exceptions count as false)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = predicate(self.driver)
                if value:
                    return value
            except (NoSuchElementException, StaleElementReferenceException, JavascriptException) as e:
                last = e
            if time.monotonic() > deadline:
                raise TimeoutException(f"timed out after {timeout}s waiting for {message} ({last})")
            time.sleep(0.05)

    def find(self, css, root=None):
        return (root or self.driver).find_element(By.CSS_SELECTOR, css)

    def finds(self, css, root=None):
        return (root or self.driver).find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css, timeout=15, visible=True):
        def present(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if not visible or el.is_displayed():
                    return el
            return None

        return self.wait(present, timeout, f"element {css}")

    def wait_gone(self, css, timeout=15):
        self.wait(lambda d: not [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()], timeout, f"{css} to go")

    def click(self, css, timeout=15):
        """Clicks the first visible match; again if a re-render replaced it."""
        for attempt in range(5):
            el = self.wait_for(css, timeout)
            try:
                el.click()
                return el
            except StaleElementReferenceException:
                if attempt == 4:
                    raise
                time.sleep(0.1)

    def type(self, css, text, clear=True):
        el = self.wait_for(css)
        if clear:
            el.clear()
        el.send_keys(text)
        return el

    def text(self, css):
        return self.wait_for(css).text

    def screenshot(self, path):
        # Let animations and lazy images settle.
        time.sleep(0.4)
        self.driver.save_screenshot(str(path))

    # ---- console ---------------------------------------------------------------

    def collect_logs(self):
        if self.driver is None:
            return self.logs
        try:
            self.logs.extend(self.driver.get_log("browser"))
        except Exception:
            pass
        return self.logs

    def severe_logs(self, allow=()):
        """SEVERE console entries, less those matching one of allow."""
        self.collect_logs()
        return [
            e
            for e in self.logs
            if e.get("level") == "SEVERE" and not any(a in e.get("message", "") for a in allow)
        ]

    def local_storage(self, key):
        raw = self.js("return localStorage.getItem(arguments[0])", key)
        return json.loads(raw) if raw else None

    def quit(self):
        if self.driver is None:
            return
        self.collect_logs()
        try:
            self.driver.quit()
        finally:
            self.driver = None
            shutil.rmtree(self.profile, ignore_errors=True)
