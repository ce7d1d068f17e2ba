"""Sign-up, sign-in, sign-out, CSRF and the session cookie, over real HTTP."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lightbox.accounts.models import User


def test_first_visit_creates_the_owner_then_setup_is_gone(web, browser, runtime,
                                                          password):
    b = browser()
    home = b.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/setup"
    form = b.get("/setup")
    assert form.status_code == 200
    assert "<title>Create your studio · Lightbox</title>" in form.text

    # A bad password is shown next to its field; nothing is created.
    short = b.post("/setup", {"team_name": "Acme", "email": "ann@acme.test",
                              "password": "short", "team": "new"})
    assert short.status_code == 400
    assert 'id="password-error"' in short.text
    assert "password: must be at least 10 characters" in short.text

    done = b.post("/setup", {"team_name": "Acme", "email": "Ann@Acme.test",
                             "password": password, "team": "new"})
    assert done.status_code == 303
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # base_url is http:// in tests
    products = b.get("/products")
    assert products.status_code == 200
    assert "Acme" in products.text and "ann@acme.test" in products.text

    with runtime.db.session() as session:
        user = session.scalar(select(User))
        assert user.role == "owner" and user.password_hash.startswith("$argon2")

    # Setup is a one-time thing: a second visitor is sent to sign in.
    other = browser()
    assert other.get("/setup").headers["location"] == "/signin"
    again = other.post("/setup", {"team_name": "Evil", "email": "e@evil.test",
                                  "password": password, "team": "new"})
    assert again.status_code == 303 and again.headers["location"] == "/signin"


def test_sign_in_generic_error_lockout_and_sign_out(web, browser, signup, runtime,
                                                     password):
    owner = browser()
    signup(owner, team="Acme", email="ann@acme.test")
    assert owner.post("/signout", {}).headers["location"] == "/signin"
    assert owner.get("/products").status_code == 303

    b = browser()
    b.get("/signin")
    wrong = b.post("/signin", {"email": "ann@acme.test", "password": "wrong" * 3})
    unknown = b.post("/signin", {"email": "bob@acme.test", "password": "wrong" * 3})
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid email or password." in wrong.text
    assert "Invalid email or password." in unknown.text

    ok = b.post("/signin", {"email": "ann@acme.test", "password": password,
                            "next": "/presets"})
    assert ok.status_code == 303 and ok.headers["location"] == "/presets"
    # An off-site "next" is ignored.
    b.post("/signout", {})
    b.get("/signin")
    offsite = b.post("/signin", {"email": "ann@acme.test", "password": password,
                                 "next": "//evil.example/x"})
    assert offsite.headers["location"] == "/products"

    # Five failures lock the account: even the right password fails, the same way.
    c = browser()
    c.get("/signin")
    for _ in range(5):
        c.post("/signin", {"email": "ann@acme.test", "password": "nope" * 3})
    locked = c.post("/signin", {"email": "ann@acme.test", "password": password})
    assert locked.status_code == 401 and "Invalid email or password." in locked.text
    with runtime.db.session() as session:
        user = session.scalar(select(User))
        assert user.failed_logins == 5
        assert user.locked_until > dt.datetime.now(dt.UTC)


def test_forms_without_a_valid_csrf_token_are_refused(web, browser, signup):
    b = browser()
    signup(b, team="Acme", email="ann@acme.test")
    missing = b.post("/signout", {}, csrf=False)
    assert missing.status_code == 403
    assert "did not come from this site" in missing.text
    assert "<title>Not allowed · Lightbox</title>" in missing.text
    forged = b.post("/signout", {"csrf_token": "x" * 43})
    assert forged.status_code == 403
    # Still signed in: the refused sign-out did nothing.
    assert b.get("/products").status_code == 200

    # Another session's token is no good either.
    other = browser()
    other.get("/signin")
    stolen = b.client.post("/signout", data={"csrf_token": other.csrf})
    assert stolen.status_code == 403

    # The htmx header works in place of the field.
    header = b.client.post("/signout", headers={"X-CSRF-Token": b.csrf})
    assert header.status_code == 303


def test_tampered_cookie_is_anonymous_and_errors_are_pages(web, browser, signup):
    b = browser()
    signup(b, team="Acme", email="ann@acme.test")
    value = b.client.cookies["lightbox_session"]
    b.client.cookies.set("lightbox_session", value[:-2] + "xx")
    assert b.get("/products").status_code == 303

    missing = b.get("/no-such-page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "Page not found" in missing.text
    # The API keeps its JSON errors.
    api = b.client.get("/api/external/products")
    assert api.status_code == 401 and api.json() == {"error": "Invalid API key."}


def test_unexpected_errors_are_a_500_page_without_a_trace(web, browser, signup,
                                                          monkeypatch):
    from lightbox.web.pages import presets

    b = browser()
    signup(b, team="Acme", email="ann@acme.test")

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(presets.catalog, "list_presets", broken)
    response = b.get("/presets")
    assert response.status_code == 500
    assert "<title>Something went wrong · Lightbox</title>" in response.text
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_cookie_is_secure_behind_https(web, browser, runtime):
    runtime.settings.base_url = "https://studio.example"
    b = browser()
    response = b.get("/setup")
    assert "; secure" in response.headers["set-cookie"].lower()
