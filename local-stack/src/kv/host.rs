//! `spin:key-value@3.0.0`, `spin:variables@3.0.0` and `wasi:keyvalue` (store,
//! atomics, batch) for one component instance, over the shared [`SqliteKv`].

use std::sync::Arc;

use wasmtime::component::{Accessor, HasData, Linker, Resource, ResourceTable};

use super::SqliteKv;
use super::sqlite::{self, Pending};
use crate::variables::{VariableError, Variables};

mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "dreamreel:local-stack/host",
        imports: { default: trappable },
        with: {
            "spin:key-value/key-value.store": super::KvHandle,
            "wasi:keyvalue/store.bucket": super::KvHandle,
            "wasi:keyvalue/atomics.cas": super::CasHandle,
        },
    });
}

use generated::spin::key_value::key_value as spin_kv;
use generated::spin::variables::variables as spin_vars;
use generated::wasi::keyvalue::{atomics, batch, store as wasi_kv};

/// An open store, as a guest resource: the label it was opened with.
pub struct KvHandle {
    label: String,
}

/// A compare-and-swap ticket: the value seen when it was taken.
pub struct CasHandle {
    label: String,
    key: String,
    seen: Option<Vec<u8>>,
}

/// What one component instance may reach: the shared database, its store
/// labels and its variables.
#[derive(Clone)]
pub struct SpinCtx {
    /// The shared SQLite key-value file.
    pub kv: Arc<SqliteKv>,
    /// Store labels this component declares in `spin.toml`.
    pub stores: Arc<[String]>,
    /// Every resolved variable of the app.
    pub variables: Arc<Variables>,
    /// The component's id, which scopes its variables.
    pub component: Arc<str>,
    /// What this request's calls wrote or read before it was durable: the
    /// response waits for it ([`SqliteKv::settled`]).
    pub pending: Arc<Pending>,
}

impl SpinCtx {
    /// The same context for a new request, with nothing pending.
    pub fn for_request(&self) -> Self {
        Self {
            pending: Arc::default(),
            ..self.clone()
        }
    }

    /// Runs `f` on the database without waiting for durability: the
    /// request's response waits instead, once, for everything it touched.
    fn defer<R>(&self, f: impl FnOnce(&SqliteKv) -> R) -> R {
        sqlite::deferred(&self.pending, || f(&self.kv))
    }
}

/// Borrowed view handed to the host functions.
pub struct SpinView<'a> {
    ctx: &'a SpinCtx,
    table: &'a mut ResourceTable,
}

impl<'a> SpinView<'a> {
    /// Views `ctx` with the store's resource table.
    pub fn new(ctx: &'a SpinCtx, table: &'a mut ResourceTable) -> Self {
        Self { ctx, table }
    }
}

/// Marker tying the generated traits to [`SpinView`].
pub struct SpinHost;

impl HasData for SpinHost {
    type Data<'a> = SpinView<'a>;
}

/// Adds every Spin interface to `linker`; `view` finds the [`SpinView`] in `T`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    spin_kv::add_to_linker::<T, SpinHost>(linker, view)?;
    spin_vars::add_to_linker::<T, SpinHost>(linker, view)?;
    wasi_kv::add_to_linker::<T, SpinHost>(linker, view)?;
    atomics::add_to_linker::<T, SpinHost>(linker, view)?;
    batch::add_to_linker::<T, SpinHost>(linker, view)?;
    Ok(())
}

impl SpinView<'_> {
    fn label(&self, handle: &Resource<KvHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(handle)?.label.clone())
    }

    fn may_open(&self, label: &str) -> bool {
        self.ctx.stores.iter().any(|s| s == label)
    }
}

fn spin_err(e: super::KvError) -> spin_kv::Error {
    spin_kv::Error::Other(e.to_string())
}

fn wasi_err(e: super::KvError) -> wasi_kv::Error {
    wasi_kv::Error::Other(e.to_string())
}

// ---- spin:key-value@3.0.0 (async functions: run under an Accessor) ----

impl spin_kv::Host for SpinView<'_> {}

impl spin_kv::HostStore for SpinView<'_> {
    fn drop(&mut self, rep: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<U> spin_kv::HostStoreWithStore<U> for SpinHost {
    async fn open(
        accessor: &Accessor<U, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KvHandle>, spin_kv::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            if !view.may_open(&label) {
                return Ok(Err(spin_kv::Error::AccessDenied));
            }
            Ok(Ok(view.table.push(KvHandle { label })?))
        })
    }

    async fn get(
        accessor: &Accessor<U, Self>,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            let label = view.label(&this)?;
            Ok(view.ctx.defer(|kv| kv.get(&label, &key)).map_err(spin_err))
        })
    }

    async fn set(
        accessor: &Accessor<U, Self>,
        this: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            let label = view.label(&this)?;
            Ok(view
                .ctx
                .defer(|kv| kv.set(&label, &key, &value))
                .map_err(spin_err))
        })
    }

    async fn delete(
        accessor: &Accessor<U, Self>,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            let label = view.label(&this)?;
            Ok(view
                .ctx
                .defer(|kv| kv.delete(&label, &key))
                .map_err(spin_err))
        })
    }

    async fn exists(
        accessor: &Accessor<U, Self>,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            let label = view.label(&this)?;
            Ok(view
                .ctx
                .defer(|kv| kv.exists(&label, &key))
                .map_err(spin_err))
        })
    }

    async fn get_keys(
        accessor: &Accessor<U, Self>,
        this: Resource<KvHandle>,
    ) -> wasmtime::Result<(
        wasmtime::component::StreamReader<String>,
        wasmtime::component::FutureReader<Result<(), spin_kv::Error>>,
    )> {
        accessor.with(|mut access| {
            let (keys, result) = {
                let view = access.get();
                let label = view.label(&this)?;
                match view.ctx.defer(|kv| kv.keys(&label)) {
                    Ok(keys) => (keys, Ok(())),
                    Err(e) => (Vec::new(), Err(spin_err(e))),
                }
            };
            let stream = wasmtime::component::StreamReader::new(&mut access, keys)?;
            let done = wasmtime::component::FutureReader::new(&mut access, async move {
                Ok::<_, wasmtime::Error>(result)
            })?;
            Ok((stream, done))
        })
    }
}

// ---- spin:variables@3.0.0 ----

impl spin_vars::Host for SpinView<'_> {}

impl<U> spin_vars::HostWithStore<U> for SpinHost {
    async fn get(
        accessor: &Accessor<U, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, spin_vars::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            Ok(view
                .ctx
                .variables
                .get(&view.ctx.component, &name)
                .map_err(|e| match e {
                    VariableError::InvalidName(n) => spin_vars::Error::InvalidName(n),
                    VariableError::Undefined(n) => spin_vars::Error::Undefined(n),
                }))
        })
    }
}

// ---- wasi:keyvalue@0.2.0-draft2 (synchronous functions) ----

impl wasi_kv::Host for SpinView<'_> {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<KvHandle>, wasi_kv::Error>> {
        if !self.may_open(&identifier) {
            return Ok(Err(wasi_kv::Error::AccessDenied));
        }
        Ok(Ok(self.table.push(KvHandle { label: identifier })?))
    }
}

impl wasi_kv::HostBucket for SpinView<'_> {
    fn get(
        &mut self,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let label = self.label(&this)?;
        Ok(self.ctx.defer(|kv| kv.get(&label, &key)).map_err(wasi_err))
    }

    fn set(
        &mut self,
        this: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&this)?;
        Ok(self
            .ctx
            .defer(|kv| kv.set(&label, &key, &value))
            .map_err(wasi_err))
    }

    fn delete(
        &mut self,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&this)?;
        Ok(self
            .ctx
            .defer(|kv| kv.delete(&label, &key))
            .map_err(wasi_err))
    }

    fn exists(
        &mut self,
        this: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, wasi_kv::Error>> {
        let label = self.label(&this)?;
        Ok(self
            .ctx
            .defer(|kv| kv.exists(&label, &key))
            .map_err(wasi_err))
    }

    fn list_keys(
        &mut self,
        this: Resource<KvHandle>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_kv::KeyResponse, wasi_kv::Error>> {
        let label = self.label(&this)?;
        let keys = match self.ctx.defer(|kv| kv.keys(&label)) {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(wasi_err(e))),
        };
        // One page holds everything; the cursor only resumes after a key.
        let keys = match cursor {
            Some(after) => keys.into_iter().filter(|k| *k > after).collect(),
            None => keys,
        };
        Ok(Ok(wasi_kv::KeyResponse { keys, cursor: None }))
    }

    fn drop(&mut self, rep: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl atomics::Host for SpinView<'_> {
    fn increment(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .ctx
            .defer(|kv| kv.increment(&label, &key, delta))
            .map_err(wasi_err))
    }

    fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let ticket = self.table.delete(cas)?;
        let swapped = self.ctx.defer(|kv| {
            kv.compare_and_swap(&ticket.label, &ticket.key, ticket.seen.as_deref(), &value)
        });
        match swapped {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand back a fresh ticket so the guest may retry, as the interface intends.
                let seen = match self.ctx.defer(|kv| kv.get(&ticket.label, &ticket.key)) {
                    Ok(seen) => seen,
                    Err(e) => return Ok(Err(atomics::CasError::StoreError(wasi_err(e)))),
                };
                let fresh = self.table.push(CasHandle { seen, ..ticket })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(wasi_err(e)))),
        }
    }
}

impl atomics::HostCas for SpinView<'_> {
    fn new(
        &mut self,
        bucket: Resource<KvHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<CasHandle>, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        let seen = match self.ctx.defer(|kv| kv.get(&label, &key)) {
            Ok(seen) => seen,
            Err(e) => return Ok(Err(wasi_err(e))),
        };
        Ok(Ok(self.table.push(CasHandle { label, key, seen })?))
    }

    fn current(
        &mut self,
        this: Resource<CasHandle>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        Ok(Ok(self.table.get(&this)?.seen.clone()))
    }

    fn drop(&mut self, rep: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl batch::Host for SpinView<'_> {
    fn get_many(
        &mut self,
        bucket: Resource<KvHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .ctx
            .defer(|kv| kv.get_many(&label, &keys))
            .map(|values| keys.into_iter().zip(values).collect())
            .map_err(wasi_err))
    }

    fn set_many(
        &mut self,
        bucket: Resource<KvHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .ctx
            .defer(|kv| kv.set_many(&label, &key_values))
            .map_err(wasi_err))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<KvHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.label(&bucket)?;
        Ok(self
            .ctx
            .defer(|kv| kv.delete_many(&label, &keys))
            .map_err(wasi_err))
    }
}
