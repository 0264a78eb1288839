use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::stack::kinds::Kind;

declare_rule! {
    /// ## What it does
    /// Flags a datastore (PostgreSQL, Redis, Qdrant, any `kind = "datastore"`) on
    /// the `frontend` network.
    ///
    /// ## Why is this bad?
    /// `frontend` is the network the reverse proxy faces the world from. A
    /// datastore there is one proxy misconfiguration away from the internet; the
    /// network matrix of 001 §2.3 and 002 §12.1 keeps data on `backend` only.
    ///
    /// ## Example
    /// ```toml
    /// [services.redis]
    /// networks = ["backend", "frontend"]
    /// ```
    ///
    /// ## Fix
    /// Keep datastores on `backend` (internal). Apps reach them there.
    pub struct DatastoreOnFrontend => "datastore-on-frontend", Error;
}

impl DatastoreOnFrontend {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack
            .services
            .values()
            .filter(|s| s.kind == Kind::Datastore)
        {
            if let Some(i) = service.networks.iter().position(|n| n == "frontend") {
                let span = service.network_spans.get(i).cloned().flatten();
                out.push(
                    Self::diagnostic(format!(
                        "datastore `{}` is on the frontend network",
                        service.name
                    ))
                    .at(
                        span.as_ref().or(service.span.as_ref()),
                        "reachable from the proxy's network",
                    )
                    .help("remove `frontend` from its networks; apps reach it on `backend`"),
                );
            }
        }
    }
}
