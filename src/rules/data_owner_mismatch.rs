use crate::diagnostic::Diagnostic;
use crate::knowledge::image::ImageRef;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a data directory whose owner is not the UID the container runs as: the
    /// service's `user`, or for images that set their own user, that image's UID:
    /// `grafana/grafana` 472 (Grafana docs, "Run Grafana Docker image": the image
    /// runs as user 472), `grafana/loki` 10001 (`USER 10001` in grafana/loki
    /// `cmd/loki/Dockerfile`), `n8nio/n8n` and `ghcr.io/openclaw/openclaw` 1000 (the
    /// Node image's `node` user, seed 002 §11.2).
    ///
    /// ## Why is this bad?
    /// vpai creates each data directory under `/opt/<project>/data/` owned by its
    /// `owner` (root when unset), mode 0755. A process running as another, non-root
    /// UID cannot write there: capabilities added with `cap_add` do not apply to a
    /// non-root user, so `DAC_OVERRIDE` does not help. Grafana stops with
    /// "GF_PATHS_DATA='/var/lib/grafana' is not writable", Loki and VictoriaMetrics
    /// with permission denied (seed 002 §8.1: "the data directories must be chowned
    /// to the container's UID, not to the system user").
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana]
    /// data."/var/lib/grafana" = { owner = "1000:1000" }   # the image runs as 472
    /// ```
    ///
    /// ## Fix
    /// Set the directory's `owner` to the container's UID (`"472:0"` for Grafana,
    /// `"10001:10001"` for Loki), or run the container as the owner with `user`.
    pub struct DataOwnerMismatch => "data-owner-mismatch", Error;
}

/// The UID an image runs as when the service sets no `user`.
fn image_uid(image: &ImageRef) -> Option<(u32, &'static str)> {
    if image.is(&["grafana/grafana", "grafana/grafana-oss"]) {
        return Some((472, "grafana/grafana runs as 472"));
    }
    if image.is(&["grafana/loki"]) {
        return Some((10001, "grafana/loki runs as 10001"));
    }
    if image.is(&[
        "n8nio/n8n",
        "docker.n8n.io/n8nio/n8n",
        "ghcr.io/openclaw/openclaw",
    ]) {
        return Some((1000, "the image runs as `node` (1000)"));
    }
    None
}

impl DataOwnerMismatch {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let (runs_as, why, owner_hint) = match service.user.as_deref() {
                Some(user) => match support::uid(user) {
                    Some(u) => (
                        u,
                        format!("the container runs as `user = \"{user}\"`"),
                        user.to_string(),
                    ),
                    None => continue,
                },
                None => match image_uid(&support::image(service)) {
                    Some((u, why)) => (u, why.to_string(), format!("{u}:{u}")),
                    None => continue,
                },
            };
            if runs_as == 0 {
                continue;
            }
            for d in &service.data {
                let owner = match d.owner.as_deref() {
                    Some(o) => match support::uid(o) {
                        Some(u) => u,
                        None => continue,
                    },
                    None => 0,
                };
                if owner == runs_as {
                    continue;
                }
                let path = d.container_path.as_str();
                let span = support::locate(stack, service, |l| l.contains(path));
                let owned_by = match d.owner.as_deref() {
                    Some(o) => format!("owned by `{o}`"),
                    None => "owned by root (no `owner`)".to_string(),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` runs as UID {runs_as}, but its data directory `{path}` is {owned_by}",
                        service.name
                    ))
                    .at(span.as_ref(), "the container cannot write here")
                    .note(format!(
                        "{why}; /opt/<project>/data/{} is created with mode 0755, and cap_add does not apply to a non-root user (002 §8.1)",
                        d.dir
                    ))
                    .help(format!(
                        "set `data.\"{path}\" = {{ owner = \"{owner_hint}\" }}`, or run the container as the owner with `user`"
                    )),
                );
            }
        }
    }
}
