//! Spin's HTTP routing: exact paths, `:param` segments and trailing `/...`
//! wildcards, with the most specific route winning.

use anyhow::bail;

/// A compiled route table.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    pattern: String,
    segments: Vec<Segment>,
    wildcard: bool,
    component: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// The outcome of routing one request path.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch {
    /// Component id that serves the request.
    pub component: String,
    /// The route as written in the manifest, e.g. `/v1/users/:handle`.
    pub raw_route: String,
    /// The route without its trailing wildcard.
    pub component_route: String,
    /// Named parameters in path order.
    pub params: Vec<(String, String)>,
    /// What the wildcard matched, starting with `/`, or empty.
    pub path_info: String,
}

impl Router {
    /// Builds the table; two routes with the same pattern are an error, as in Spin.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> anyhow::Result<Self> {
        let mut compiled: Vec<Route> = Vec::new();
        for (pattern, component) in routes {
            let route = Route::parse(pattern, component)?;
            if compiled
                .iter()
                .any(|r| r.segments == route.segments && r.wildcard == route.wildcard)
            {
                bail!("duplicate route {pattern}");
            }
            compiled.push(route);
        }
        Ok(Self { routes: compiled })
    }

    /// Finds the most specific route for `path` (no query string).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let parts: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .filter_map(|r| r.matches(&parts).map(|m| (r.specificity(), m)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, m)| m)
    }
}

impl Route {
    fn parse(pattern: &str, component: &str) -> anyhow::Result<Self> {
        if !pattern.starts_with('/') {
            bail!("route {pattern} must start with /");
        }
        let (body, wildcard) = match pattern.strip_suffix("/...") {
            Some(body) => (body, true),
            None if pattern == "/..." => ("", true),
            None => (pattern, false),
        };
        let mut segments = Vec::new();
        for part in split(body) {
            if part == "..." {
                bail!("route {pattern}: `...` may only end a route");
            }
            segments.push(match part.strip_prefix(':') {
                Some("") => bail!("route {pattern}: unnamed parameter"),
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(part.to_owned()),
            });
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            segments,
            wildcard,
            component: component.to_owned(),
        })
    }

    fn matches(&self, parts: &[&str]) -> Option<RouteMatch> {
        let n = self.segments.len();
        if parts.len() < n || (!self.wildcard && parts.len() != n) {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), (*part).to_owned())),
            }
        }
        let rest = &parts[n..];
        let path_info = if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        };
        Some(RouteMatch {
            component: self.component.clone(),
            raw_route: self.pattern.clone(),
            component_route: self
                .pattern
                .strip_suffix("/...")
                .unwrap_or(&self.pattern)
                .to_owned(),
            params,
            path_info,
        })
    }

    /// Exact beats wildcard; then more literal segments; then more segments.
    fn specificity(&self) -> (bool, usize, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (!self.wildcard, literals, self.segments.len())
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new([
            ("/v1/me", "accounts"),
            ("/v1/auth/...", "accounts"),
            ("/v1/users/:handle", "users"),
            ("/v1/users/:handle/videos", "feed"),
            ("/v1/users/top", "top"),
            ("/...", "web"),
        ])
        .unwrap()
    }

    #[test]
    fn exact_route_wins_over_wildcards() {
        let m = router().route("/v1/me").unwrap();
        assert_eq!(m.component, "accounts");
        assert_eq!(m.path_info, "");
    }

    #[test]
    fn wildcard_matches_its_base_and_below() {
        let r = router();
        let m = r.route("/v1/auth/login").unwrap();
        assert_eq!(
            (m.component.as_str(), m.path_info.as_str()),
            ("accounts", "/login")
        );
        assert_eq!(m.component_route, "/v1/auth");
        assert_eq!(r.route("/v1/auth").unwrap().component, "accounts");
    }

    #[test]
    fn params_are_captured_and_literals_beat_params() {
        let r = router();
        let m = r.route("/v1/users/ana/videos").unwrap();
        assert_eq!(m.component, "feed");
        assert_eq!(m.params, vec![("handle".into(), "ana".into())]);
        assert_eq!(r.route("/v1/users/top").unwrap().component, "top");
        assert_eq!(r.route("/v1/users/bob").unwrap().component, "users");
    }

    #[test]
    fn catch_all_takes_the_rest() {
        let m = router().route("/index.html").unwrap();
        assert_eq!(
            (m.component.as_str(), m.path_info.as_str()),
            ("web", "/index.html")
        );
    }

    #[test]
    fn no_match_without_catch_all() {
        let r = Router::new([("/v1/me", "a")]).unwrap();
        assert!(r.route("/v1/you").is_none());
        assert!(r.route("/v1/me/x").is_none());
    }

    #[test]
    fn duplicate_and_malformed_routes_are_refused() {
        assert!(Router::new([("/a", "x"), ("/a", "y")]).is_err());
        assert!(Router::new([("a", "x")]).is_err());
        assert!(Router::new([("/a/.../b", "x")]).is_err());
    }
}
