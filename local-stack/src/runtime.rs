//! Serves HTTP requests through the app's WASM components: compiled once,
//! pre-instantiated, and a fresh instance for every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    StoreLimits, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::Request as WasiRequest;
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::body::{self, BodyError, ResponseBody};
use crate::compile_cache;
use crate::kv::SqliteKv;
use crate::kv::host::{self as spin_host, SpinCtx, SpinView};
use crate::kv::sqlite::Pending;
use crate::manifest::Manifest;
use crate::outbound::{OutboundHooks, OutboundPolicy};
use crate::router::{RouteMatch, Router};
use crate::variables::Variables;

/// How long one request may run before the instance is stopped.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// How long an event stream may run; clients reconnect with `Last-Event-ID`.
pub const MAX_STREAM: Duration = Duration::from_secs(300);
/// How often a streaming instance's deadline is looked at again.
const EPOCH_RECHECK: Duration = Duration::from_secs(1);
/// Epoch ticks: wasm that spins without yielding is interrupted at the deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Linear memory one instance may grow to.
const INSTANCE_MEMORY_LIMIT: usize = 256 << 20;
/// Component instances alive at once (requests in flight plus open streams).
const MAX_LIVE_INSTANCES: u32 = 2048;
/// Bytes of a returned memory or table slot kept resident for the next instance.
const KEEP_RESIDENT: usize = 4 << 20;
/// Slots whose memory is decommitted per system call.
const DECOMMIT_BATCH: usize = 16;

/// Per-request state of one instance.
pub struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    spin: SpinCtx,
    limits: StoreLimits,
    /// Set once the response is an event stream: the instance may run until then.
    stream_until: Option<Instant>,
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
pub type Response = http::Response<ResponseBody>;

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
                pending: Arc::default(),
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

    /// The resolved value of application variable `name` (e.g. the CORS
    /// origins, for the host's own answers).
    pub fn app_variable(&self, name: &str) -> Option<String> {
        let any = self.components.values().next()?;
        any.spin.variables.app(name).map(str::to_owned)
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
        match self.call(component, req).await {
            Ok(res) => res,
            Err(Failure::Failed(e)) => {
                crate::log::error(
                    request_id,
                    &format!("component {} failed: {e:#}", route.component),
                );
                error_response(500, "internal", "the request failed inside the server")
            }
            Err(Failure::TimedOut) => {
                crate::log::error(
                    request_id,
                    &format!("component {} timed out", route.component),
                );
                error_response(504, "timeout", "the request took too long")
            }
        }
    }

    /// Runs the instance on its own task. A whole response is collected
    /// within the deadline; an event stream is handed to the client as it
    /// comes, for at most [`MAX_STREAM`].
    async fn call(
        &self,
        component: &LoadedComponent,
        req: http::Request<Bytes>,
    ) -> Result<Response, Failure> {
        let spin = component.spin.for_request();
        let durable = Durability {
            kv: spin.kv.clone(),
            pending: spin.pending.clone(),
        };
        let state = State {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(component.outbound.clone()),
            spin,
            limits: StoreLimitsBuilder::new()
                .memory_size(INSTANCE_MEMORY_LIMIT)
                .build(),
            stream_until: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(ticks(REQUEST_DEADLINE));
        store.epoch_deadline_callback(|store| match store.data().stream_until {
            Some(until) if Instant::now() < until => {
                Ok(UpdateDeadline::Continue(ticks(EPOCH_RECHECK)))
            }
            _ => Ok(UpdateDeadline::Interrupt),
        });
        let service = component
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| Failure::Failed(e.into()))?;

        let deadline = tokio::time::Instant::now() + REQUEST_DEADLINE;
        let (head_tx, head_rx) = oneshot::channel();
        let (frames_tx, mut frames_rx) = mpsc::channel(16);
        let mut task = tokio::spawn(serve_instance(
            store, service, req, head_tx, frames_tx, durable,
        ));
        let head = match tokio::time::timeout_at(deadline, head_rx).await {
            Ok(Ok(head)) => head,
            // The instance ended without a response: its error says why.
            Ok(Err(_)) => {
                return Err(Failure::Failed(match (&mut task).await {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => anyhow::anyhow!("the component sent no response"),
                    Err(e) => anyhow::anyhow!("instance task: {e}"),
                }));
            }
            Err(_) => {
                task.abort();
                return Err(Failure::TimedOut);
            }
        };
        if is_event_stream(&head) {
            return Ok(http::Response::from_parts(head, body::channel(frames_rx)));
        }
        let whole = async {
            let mut bytes = Vec::new();
            while let Some(frame) = frames_rx.recv().await {
                let frame = frame.map_err(|e| anyhow::anyhow!("{e}"))?;
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            anyhow::Ok(bytes)
        };
        match tokio::time::timeout_at(deadline, whole).await {
            Ok(Ok(bytes)) => Ok(http::Response::from_parts(head, body::full(bytes))),
            Ok(Err(e)) => Err(Failure::Failed(e)),
            Err(_) => {
                task.abort();
                Err(Failure::TimedOut)
            }
        }
    }
}

/// Why a request got no answer from its component.
enum Failure {
    /// A trap, an error or a broken response.
    Failed(anyhow::Error),
    /// The deadline passed first.
    TimedOut,
}

/// The key-value batches one request depended on, to wait for before answering.
struct Durability {
    kv: Arc<SqliteKv>,
    pending: Arc<Pending>,
}

impl Durability {
    /// Returns once everything the request wrote or read so far is durable.
    async fn settled(&self) -> anyhow::Result<()> {
        Ok(self.kv.settled(&self.pending).await?)
    }
}

/// Drives one instance: sends the response head on `head`, then the body's
/// frames on `frames` until the body ends or the client goes away. Nothing
/// reaches the client before what it depends on is durable: a whole
/// response waits once, at the end (`call` sends it when `frames` closes);
/// an event stream waits before its head and each frame.
async fn serve_instance(
    mut store: Store<State>,
    service: Service,
    req: http::Request<Bytes>,
    head: oneshot::Sender<http::response::Parts>,
    frames: mpsc::Sender<Result<Frame<Bytes>, BodyError>>,
    durable: Durability,
) -> anyhow::Result<()> {
    let body = req.map(Full::new);
    let (req, io) = WasiRequest::from_http(&mut store.data_mut().hooks, body);
    let failures = frames.clone();
    let result = store
        .run_concurrent(async |store| {
            tokio::try_join!(
                async {
                    let res = match service.handle(store, req).await? {
                        Ok(res) => res,
                        Err(code) => anyhow::bail!("component answered error {code:?}"),
                    };
                    let res = store.with(|s| res.into_http(s, async { Ok(()) }))?;
                    let (parts, mut body) = res.into_parts();
                    let streaming = is_event_stream(&parts);
                    if streaming {
                        let until = Instant::now() + MAX_STREAM;
                        store.with(|mut s| s.data_mut().stream_until = Some(until));
                        durable.settled().await?;
                    }
                    if head.send(parts).is_err() {
                        return Ok(());
                    }
                    while let Some(frame) = body.frame().await {
                        let frame = frame.map_err(|e| anyhow::anyhow!("response body: {e:?}"))?;
                        if streaming {
                            durable.settled().await?;
                        }
                        if frames.send(Ok(frame)).await.is_err() {
                            break; // The client went away.
                        }
                    }
                    Ok(())
                },
                async { io.await.map_err(|e| anyhow::anyhow!("request body: {e:?}")) }
            )?;
            anyhow::Ok(())
        })
        .await
        .map_err(anyhow::Error::from)
        .and_then(|r| r);
    // The instance is done: its slot goes back to the pool before the wait.
    drop(store);
    let result = match result {
        Ok(()) => durable.settled().await,
        failed => failed,
    };
    if let Err(e) = &result {
        let _ = failures.send(Err(format!("{e:#}").into())).await;
    }
    result
}

/// Server-Sent Events: the one kind of response streamed to the client.
fn is_event_stream(head: &http::response::Parts) -> bool {
    head.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

/// Epoch ticks in `d`.
fn ticks(d: Duration) -> u64 {
    (d.as_millis() / EPOCH_TICK.as_millis()) as u64
}

fn engine() -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    // Every open event stream holds an instance (and its fiber stack) for
    // minutes, so the pool is sized for thousands of live clients plus the
    // request traffic beside them (benches/stream_fanout.rs opens 1,000).
    // Slots are address space reserved up front, committed only when used.
    pool.total_component_instances(MAX_LIVE_INSTANCES)
        .total_core_instances(MAX_LIVE_INSTANCES * 8)
        .total_memories(MAX_LIVE_INSTANCES * 2)
        .total_tables(MAX_LIVE_INSTANCES * 2)
        .total_stacks(MAX_LIVE_INSTANCES)
        .max_memory_size(INSTANCE_MEMORY_LIMIT)
        // A slot given back is reset by rewriting only the pages the instance
        // dirtied (found with PAGEMAP_SCAN where the kernel has it) and kept
        // resident, so the next request neither pays an madvise nor refaults
        // its pages; larger memories are still decommitted, in batches.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .decommit_batch_size(DECOMMIT_BATCH);
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
        .body(body::full(body.to_string()))
        .expect("static response parts are valid")
}
