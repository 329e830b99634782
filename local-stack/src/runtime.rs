//! Serves HTTP requests through the app's WASM components: compiled once,
//! pre-instantiated, and a fresh instance for every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::Request as WasiRequest;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::compile_cache;
use crate::kv::SqliteKv;
use crate::kv::host::{self as spin_host, SpinCtx, SpinView};
use crate::manifest::Manifest;
use crate::outbound::{OutboundHooks, OutboundPolicy};
use crate::router::{RouteMatch, Router};
use crate::variables::Variables;

/// How long one request may run before the instance is stopped.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Epoch ticks: wasm that spins without yielding is interrupted at the deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Linear memory one instance may grow to.
const INSTANCE_MEMORY_LIMIT: usize = 256 << 20;

/// Per-request state of one instance.
pub struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    spin: SpinCtx,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn spin_view(state: &mut State) -> SpinView<'_> {
    SpinView::new(&state.spin, &mut state.table)
}

struct LoadedComponent {
    pre: ServicePre<State>,
    spin: SpinCtx,
    outbound: Arc<OutboundPolicy>,
}

/// The running app: every component of the manifest, ready to serve.
pub struct Runtime {
    engine: Engine,
    router: Router,
    components: HashMap<String, LoadedComponent>,
}

/// A response as the local stack's HTTP server sends it.
pub type Response = http::Response<Bytes>;

impl Runtime {
    /// Compiles (or loads from `cache_dir`) and links every component of `manifest`.
    pub fn new(
        manifest: &Manifest,
        variables: Arc<Variables>,
        kv: Arc<SqliteKv>,
        cache_dir: &Path,
    ) -> anyhow::Result<Self> {
        let engine = engine()?;
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).context("linking WASI 0.2")?;
        wasmtime_wasi::p3::add_to_linker(&mut linker).context("linking WASI 0.3")?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker).context("linking wasi:http 0.3")?;
        spin_host::add_to_linker(&mut linker, spin_view).context("linking Spin interfaces")?;

        let mut components = HashMap::new();
        for (id, decl) in &manifest.components {
            let component = compile_cache::load(&engine, &decl.source, cache_dir)
                .with_context(|| format!("loading component {id}"))?;
            let pre = linker
                .instantiate_pre(&component)
                .with_context(|| format!("linking component {id}"))?;
            let pre = ServicePre::new(pre).with_context(|| {
                format!("component {id} does not export wasi:http/handler@0.3.0")
            })?;
            let hosts = decl
                .allowed_outbound_hosts
                .iter()
                .map(|h| variables.expand(h))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let outbound =
                Arc::new(OutboundPolicy::new(&hosts).with_context(|| format!("component {id}"))?);
            let spin = SpinCtx {
                kv: kv.clone(),
                stores: decl.key_value_stores.clone().into(),
                variables: variables.clone(),
                component: id.as_str().into(),
            };
            components.insert(
                id.clone(),
                LoadedComponent {
                    pre,
                    spin,
                    outbound,
                },
            );
        }
        let router = Router::new(
            manifest
                .routes
                .iter()
                .map(|r| (r.route.as_str(), r.component.as_str())),
        )?;
        spawn_epoch_ticker(&engine);
        Ok(Self {
            engine,
            router,
            components,
        })
    }

    /// Answers one request; a component that traps or overruns its deadline
    /// costs only this request a 500 (or 504).
    pub async fn handle(
        &self,
        req: http::Request<Bytes>,
        client: SocketAddr,
        request_id: &str,
    ) -> Response {
        let path = req.uri().path().to_owned();
        let Some(route) = self.router.route(&path) else {
            return error_response(404, "not_found", "no route matches this path");
        };
        let component = &self.components[&route.component];
        let req = with_spin_headers(req, &route, client);
        match tokio::time::timeout(REQUEST_DEADLINE, self.call(component, req)).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => {
                crate::log::error(
                    request_id,
                    &format!("component {} failed: {e:#}", route.component),
                );
                error_response(500, "internal", "the request failed inside the server")
            }
            Err(_) => {
                crate::log::error(
                    request_id,
                    &format!("component {} timed out", route.component),
                );
                error_response(504, "timeout", "the request took too long")
            }
        }
    }

    async fn call(
        &self,
        component: &LoadedComponent,
        req: http::Request<Bytes>,
    ) -> anyhow::Result<Response> {
        let state = State {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(component.outbound.clone()),
            spin: component.spin.clone(),
            limits: StoreLimitsBuilder::new()
                .memory_size(INSTANCE_MEMORY_LIMIT)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline((REQUEST_DEADLINE.as_millis() / EPOCH_TICK.as_millis()) as u64);
        store.epoch_deadline_trap();

        let service = component.pre.instantiate_async(&mut store).await?;
        let body = req.map(Full::new);
        let (req, io) = WasiRequest::from_http(&mut store.data_mut().hooks, body);
        store
            .run_concurrent(async |store| {
                let (res, ()) = tokio::try_join!(
                    async {
                        let res = match service.handle(store, req).await? {
                            Ok(res) => res,
                            Err(code) => anyhow::bail!("component answered error {code:?}"),
                        };
                        let res = store.with(|s| res.into_http(s, async { Ok(()) }))?;
                        let (parts, body) = res.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map_err(|e| anyhow::anyhow!("response body: {e:?}"))?
                            .to_bytes();
                        Ok(http::Response::from_parts(parts, body))
                    },
                    async { io.await.map_err(|e| anyhow::anyhow!("request body: {e:?}")) }
                )?;
                Ok(res)
            })
            .await?
    }
}

fn engine() -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(512)
        .total_core_instances(4096)
        .total_memories(1024)
        .total_tables(1024)
        .max_memory_size(INSTANCE_MEMORY_LIMIT);
    let mut config = Config::new();
    config
        .wasm_component_model_async(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}

/// Adds the headers Spin gives every HTTP component.
fn with_spin_headers(
    mut req: http::Request<Bytes>,
    route: &RouteMatch,
    client: SocketAddr,
) -> http::Request<Bytes> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let full_url = format!(
        "http://{host}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut add = |name: String, value: &str| {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name),
            http::HeaderValue::try_from(value),
        ) {
            req.headers_mut().insert(name, value);
        }
    };
    add("spin-full-url".into(), &full_url);
    add("spin-path-info".into(), &route.path_info);
    add("spin-matched-route".into(), &route.raw_route);
    add("spin-raw-component-route".into(), &route.raw_route);
    add("spin-component-route".into(), &route.component_route);
    add("spin-base-path".into(), "/");
    add("spin-client-addr".into(), &client.to_string());
    for (i, (name, value)) in route.params.iter().enumerate() {
        add(
            format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        );
        add(format!("spin-path-match-n-{i}"), value);
    }
    // Components see an absolute URI, as under Spin.
    if req.uri().authority().is_none()
        && let Ok(uri) = full_url.parse()
    {
        *req.uri_mut() = uri;
    }
    req
}

/// The API's JSON error shape, for errors the host itself answers.
pub fn error_response(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .expect("static response parts are valid")
}
