"""The main screens render, light and dark, desktop and phone; the PNGs go
to docs/screenshots with MSGR_SCREENSHOTS=1 (else a temporary directory)."""

import screenshots


def test_screenshots(stack, api, out_dir, browser):
    written = screenshots.capture(stack.base_url, api, out_dir, log=lambda *_: None, make=browser)
    assert len(written) == 12
    for name in written:
        data = (out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
