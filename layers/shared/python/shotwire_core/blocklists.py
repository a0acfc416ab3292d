"""Bundled rule lists for `blockAds` and `blockCookieBanners`: shipped with the code, never downloaded.

Ad/tracker hosts: the most common third-party ad, analytics and tag-manager domains (drawn from the
EasyList / Peter Lowe lists' top entries); a request to one of them, or any subdomain, is aborted.
Cookie banners: selectors of the widely deployed consent-management platforms and common generic
ids/classes; matching elements are hidden, and the page's scroll lock they set is released.
Both lists are documented in docs/capture.md.
"""

from __future__ import annotations

AD_HOSTS: frozenset[str] = frozenset(
    {
        "doubleclick.net",
        "googlesyndication.com",
        "googleadservices.com",
        "google-analytics.com",
        "googletagmanager.com",
        "googletagservices.com",
        "adservice.google.com",
        "pagead2.googlesyndication.com",
        "amazon-adsystem.com",
        "adnxs.com",
        "adsrvr.org",
        "criteo.com",
        "criteo.net",
        "taboola.com",
        "outbrain.com",
        "rubiconproject.com",
        "pubmatic.com",
        "openx.net",
        "casalemedia.com",
        "smartadserver.com",
        "advertising.com",
        "adform.net",
        "moatads.com",
        "scorecardresearch.com",
        "quantserve.com",
        "hotjar.com",
        "hotjar.io",
        "facebook.net",
        "connect.facebook.net",
        "ads-twitter.com",
        "analytics.twitter.com",
        "ads.linkedin.com",
        "bat.bing.com",
        "clarity.ms",
        "segment.io",
        "cdn.segment.com",
        "mixpanel.com",
        "amplitude.com",
        "fullstory.com",
        "newrelic.com",
        "nr-data.net",
        "media.net",
        "yieldmo.com",
        "sharethrough.com",
        "teads.tv",
        "zedo.com",
        "33across.com",
        "bidswitch.net",
        "mathtag.com",
        "serving-sys.com",
        "2mdn.net",
        "adroll.com",
        "tiktok-analytics.com",
        "analytics.tiktok.com",
        "yandex-metrica.ru",
        "mc.yandex.ru",
        "chartbeat.com",
        "chartbeat.net",
        "parsely.com",
        "optimizely.com",
    }
)

COOKIE_BANNER_SELECTORS: tuple[str, ...] = (
    "#onetrust-consent-sdk",
    "#onetrust-banner-sdk",
    ".onetrust-pc-dark-filter",
    "#CybotCookiebotDialog",
    "#CybotCookiebotDialogBodyUnderlay",
    "#usercentrics-root",
    "#didomi-host",
    ".didomi-popup-backdrop",
    "#qc-cmp2-container",
    ".qc-cmp2-container",
    "#truste-consent-track",
    "#consent_blackbar",
    "#cmpbox",
    "#cmpbox2",
    ".cmpboxBG",
    "#sp_message_container",
    "[id^='sp_message_container']",
    ".fc-consent-root",
    "#iubenda-cs-banner",
    ".iubenda-cs-container",
    "#cookiescript_injected",
    ".cc-window",
    ".cc-banner",
    ".cookie-banner",
    ".cookie-consent",
    ".cookie-notice",
    "#cookie-notice",
    "#cookie-banner",
    "#cookie-consent",
    "#cookieConsent",
    ".cookieConsent",
    "#gdpr-banner",
    ".gdpr-banner",
    "[aria-label='cookieconsent']",
    "[class*='CookieBanner']",
    "[id*='cookie-law']",
)


def is_ad_host(host: str) -> bool:
    """True for a listed host or any of its subdomains."""
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in AD_HOSTS for i in range(len(labels) - 1))


def cookie_banner_css() -> str:
    """Hide the banners and undo the scroll lock most of them put on <html>/<body>."""
    hidden = ",\n".join(COOKIE_BANNER_SELECTORS)
    return f"{hidden} {{ display: none !important; }}\nhtml, body {{ overflow: auto !important; }}"
