//! Direct HTTP against the server, for what the CLI does not expose (bad input, raw codes).

use super::server::Server;

pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Http {
    pub fn new(server: &Server) -> Http {
        Http {
            base: server.url.clone(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Reply { status, body }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// Logs in over HTTP, reading the code from the outbox; returns the token.
    pub async fn login(&self, server: &Server, email: &str) -> String {
        let start = self
            .post(
                "/v1/auth/email/start",
                None,
                serde_json::json!({ "email": email }),
            )
            .await;
        assert_eq!(start.status, 200, "{}", start.body);
        let code = server.login_code(email);
        let verify = self
            .post(
                "/v1/auth/email/verify",
                None,
                serde_json::json!({ "attempt_id": start.body["attempt_id"], "code": code }),
            )
            .await;
        assert_eq!(verify.status, 200, "{}", verify.body);
        verify.body["token"].as_str().expect("token").to_owned()
    }
}
