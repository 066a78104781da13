//! A real OpenID provider on loopback: `tests/peers/oidc.js` on the npm `oidc-provider`
//! package, which `.ci/run` installs under `$HOME/.cache/tandem-peers/npm` (`TANDEM_PEER_NPM`
//! names another `node_modules`, `TANDEM_PEER_NODE` another `node`), and a scripted browser
//! (an HTTP client with a cookie jar) that signs in on its development pages.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct OidcPeer {
    child: Child,
    pub port: u16,
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_and_modules() -> Option<(String, String)> {
    let node = std::env::var("TANDEM_PEER_NODE").unwrap_or_else(|_| "node".to_owned());
    let modules = std::env::var("TANDEM_PEER_NPM").ok().or_else(|| {
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/tandem-peers/npm/node_modules"))
    })?;
    let ok = Command::new(&node)
        .args(["-e", "require('oidc-provider')"])
        .env("NODE_PATH", &modules)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((node, modules))
}

impl OidcPeer {
    /// Starts the provider with its clients registered for `redirect_uri` (the server's
    /// callback); `None` (after printing why) when node or the package is missing and
    /// `TANDEM_REQUIRE_PEERS` is not `1`, a panic when it is.
    pub fn start(redirect_uri: &str) -> Option<OidcPeer> {
        let Some((node, modules)) = node_and_modules() else {
            if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
                panic!(
                    "node or the npm package oidc-provider is missing (TANDEM_REQUIRE_PEERS=1): run .ci/run or npm install --prefix ~/.cache/tandem-peers/npm oidc-provider@9.13.3"
                );
            }
            println!(
                "skipping: node or the npm package oidc-provider is not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)"
            );
            return None;
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/oidc.js");
        let mut child = Command::new(node)
            .arg(script)
            .arg(redirect_uri)
            .env("NODE_PATH", modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the OpenID provider");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // The provider writes more later: keep reading, or node dies of EPIPE.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the OpenID provider did not start: {line:?}"));
        Some(OidcPeer { child, port })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sets the test switch (`normal`, `tamper`, `wrong_aud`, `wrong_nonce`, `wrong_iss`).
    pub async fn set_mode(&self, mode: &str) {
        let r = reqwest::get(format!("{}/__test/mode?set={mode}", self.issuer()))
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// A scripted browser: follows redirects itself, keeps cookies (by name and path), and fills
/// the provider's login and consent forms and a `form_post` page.
pub struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String, String)>,
    /// Every URL requested, in order (the server's callback among them).
    pub visited: Vec<String>,
}

fn attr(html: &str, from: usize, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = html[from..].find(&key)? + from + key.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form's action and its hidden inputs.
fn form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let at = html.find("<form")?;
    let action = attr(html, at, "action")?;
    let end = html[at..].find("</form>").map_or(html.len(), |e| e + at);
    let mut inputs = Vec::new();
    let mut pos = at;
    while let Some(i) = html[pos..end].find("<input") {
        let i = i + pos;
        let tag_end = html[i..].find('>').map_or(end, |e| e + i);
        let tag = &html[i..tag_end];
        if tag.contains("type=\"hidden\"")
            && let (Some(n), Some(v)) = (attr(tag, 0, "name"), attr(tag, 0, "value"))
        {
            inputs.push((n, v));
        }
        pos = tag_end;
    }
    Some((action, inputs))
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
            visited: Vec::new(),
        }
    }

    fn cookie_header(&self, url: &reqwest::Url) -> String {
        self.cookies
            .iter()
            .filter(|(_, _, path)| url.path().starts_with(path.as_str()))
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for h in r.headers().get_all("set-cookie") {
            let Ok(text) = h.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let path = parts
                .filter_map(|p| p.trim().strip_prefix("path="))
                .next()
                .unwrap_or("/")
                .to_owned();
            self.cookies
                .retain(|(n, _, p)| !(n == name.trim() && *p == path));
            if !value.is_empty() {
                self.cookies
                    .push((name.trim().to_owned(), value.to_owned(), path));
            }
        }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &reqwest::Url,
        form: Option<&[(String, String)]>,
    ) -> reqwest::Response {
        self.visited.push(url.to_string());
        let mut req = self
            .http
            .request(method, url.clone())
            .header("cookie", self.cookie_header(url));
        if let Some(f) = form {
            req = req.form(f);
        }
        let r = req.send().await.unwrap();
        self.keep(&r);
        r
    }

    /// Opens `authorization_url` and signs in as `login` wherever the provider asks, until
    /// a redirect reaches `client_prefix` (the client's redirect URI): returns that URL.
    pub async fn sign_in(
        &mut self,
        authorization_url: &str,
        login: &str,
        client_prefix: &str,
    ) -> String {
        let mut url = reqwest::Url::parse(authorization_url).unwrap();
        let mut method = reqwest::Method::GET;
        let mut body: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            let r = self.send(method.clone(), &url, body.as_deref()).await;
            let status = r.status();
            if status.is_redirection() {
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                let next = url.join(&location).unwrap();
                if next.as_str().starts_with(client_prefix) {
                    return next.to_string();
                }
                url = next;
                method = reqwest::Method::GET;
                body = None;
                continue;
            }
            let html = r.text().await.unwrap();
            assert!(status.is_success(), "{status} at {url}: {html}");
            let (action, mut inputs) =
                form(&html).unwrap_or_else(|| panic!("no form at {url}: {html}"));
            if html.contains("name=\"login\"") {
                inputs.push(("login".to_owned(), login.to_owned()));
                inputs.push(("password".to_owned(), "any".to_owned()));
            }
            url = url.join(&action).unwrap();
            method = reqwest::Method::POST;
            body = Some(inputs);
        }
        panic!("the sign-in did not come back to {client_prefix}");
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::Digest;
    let mut raw = [0u8; 32];
    super::getrandom_fill_pub(&mut raw);
    let verifier = URL_SAFE_NO_PAD.encode(raw);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
