//! The dashboard over HTTP: pages and assets are served with their content types, a strict
//! CSP and revalidation headers; the cookie login accepts only the admin token, the cookie is
//! the admin for reads, needs the CSRF header for writes, and stops working after logout.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::common::{ADMIN, call, fixture, send};

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

#[tokio::test]
async fn pages_and_assets_are_served_with_types_csp_and_etags() {
    let fx = fixture().await;
    for path in [
        "/",
        "/login",
        "/sessions",
        "/sessions/session:x",
        "/sagas/saga:x",
        "/audit",
    ] {
        let r = send(&fx.app, req("GET", path, &[], None)).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    }
    let r = send(&fx.app, req("GET", "/assets/js/app.js", &[], None)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(r.headers["cache-control"], "no-cache");
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let again = send(
        &fx.app,
        req(
            "GET",
            "/assets/js/app.js",
            &[("if-none-match", &etag)],
            None,
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let css = send(&fx.app, req("GET", "/assets/app.css", &[], None)).await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        send(&fx.app, req("GET", "/assets/nope.js", &[], None))
            .await
            .status,
        404
    );
    // Unknown paths outside the dashboard stay JSON 404s.
    let r = send(&fx.app, req("GET", "/api/v1/nope", &[], None)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "not_found");
}

#[tokio::test]
async fn cookie_login_reads_needs_csrf_for_writes_and_logout_revokes() {
    let fx = fixture().await;
    // Wrong and agent tokens are refused.
    let bad = send(
        &fx.app,
        req(
            "POST",
            "/api/v1/dashboard/login",
            &[],
            Some(json!({"token": "nope"})),
        ),
    )
    .await;
    assert_eq!(bad.status, 401);
    assert!(bad.headers.get("set-cookie").is_none());
    let agent = call(
        &fx.app,
        "POST",
        &format!("/api/v1/sessions/{}/join", fx.sid),
        Some(ADMIN),
        Some(json!({"agent_did": "did:mesh:zed", "sigma_raw": 0.7})),
    )
    .await;
    let agent_token = agent.body["agent_token"].as_str().unwrap().to_string();
    let r = send(
        &fx.app,
        req(
            "POST",
            "/api/v1/dashboard/login",
            &[],
            Some(json!({"token": agent_token})),
        ),
    )
    .await;
    assert_eq!(r.status, 401);
    // The admin token gives an HttpOnly, SameSite=Strict cookie and a CSRF token.
    let ok = send(
        &fx.app,
        req(
            "POST",
            "/api/v1/dashboard/login",
            &[],
            Some(json!({"token": ADMIN})),
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
    let set = ok.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = ok.body["csrf"].as_str().unwrap().to_string();
    // Reads with the cookie work, including the event stream.
    let c = [("cookie", cookie.as_str())];
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/dashboard/summary", &c, None))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/events/stream", &c, None))
            .await
            .status,
        200
    );
    let s = send(&fx.app, req("GET", "/api/v1/dashboard/session", &c, None)).await;
    assert_eq!(s.body["csrf"], csrf.as_str());
    // Writes need the CSRF header.
    assert_eq!(
        send(&fx.app, req("POST", "/api/v1/admin/tick", &c, None))
            .await
            .status,
        403
    );
    let wrong = [("cookie", cookie.as_str()), ("x-ahv-csrf", "0000")];
    assert_eq!(
        send(&fx.app, req("POST", "/api/v1/admin/tick", &wrong, None))
            .await
            .status,
        403
    );
    let right = [("cookie", cookie.as_str()), ("x-ahv-csrf", csrf.as_str())];
    assert_eq!(
        send(&fx.app, req("POST", "/api/v1/admin/tick", &right, None))
            .await
            .status,
        200
    );
    // Logout clears the cookie and revokes the session.
    let out = send(&fx.app, req("POST", "/api/v1/dashboard/logout", &c, None)).await;
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/dashboard/summary", &c, None))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/dashboard/session", &c, None))
            .await
            .status,
        401
    );
    // A forged cookie is 401; no credentials at all is 401.
    let forged = [("cookie", "ahv_session=abcd")];
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/sessions", &forged, None))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&fx.app, req("GET", "/api/v1/dashboard/summary", &[], None))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn dashboard_views_report_the_fixture() {
    let fx = fixture().await;
    let s = call(
        &fx.app,
        "GET",
        "/api/v1/dashboard/summary",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s.status, 200);
    let sessions = call(&fx.app, "GET", "/api/v1/sessions", Some(ADMIN), None).await;
    assert_eq!(
        s.body["sessions_total"],
        sessions.body.as_array().unwrap().len()
    );
    let f = call(
        &fx.app,
        "GET",
        &format!("/api/v1/dashboard/sessions/{}/files", fx.sid),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(f.status, 200);
    assert!(
        f.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["path"] == "/notes.txt"),
        "{}",
        f.body
    );
    let g = call(
        &fx.app,
        "GET",
        &format!("/api/v1/dashboard/sagas/{}", fx.saga),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(g.body["saga_id"], fx.saga.as_str());
    assert!(g.body["fan_outs"].is_array());
    let missing = call(
        &fx.app,
        "GET",
        "/api/v1/dashboard/sagas/saga:nope",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    let r = call(&fx.app, "GET", "/api/v1/dashboard/rings", Some(ADMIN), None).await;
    assert!(
        r.body["elevations"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let l = call(
        &fx.app,
        "GET",
        "/api/v1/dashboard/liability",
        Some(ADMIN),
        None,
    )
    .await;
    assert!(l.body["vouches"].as_array().is_some_and(|v| !v.is_empty()));
}
