//! Image references as Docker reads them, and which tags move: every rule that
//! looks at an image (stack, lint, host audit) parses it here.

/// An image reference split into repository and tag, with Docker Hub's implicit
/// `docker.io/library/` removed so `postgres` and `docker.io/library/postgres` match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repo: String,
    pub tag: Option<String>,
    pub digest: bool,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let (name, digest) = match image.split_once('@') {
            Some((n, _)) => (n, true),
            None => (image, false),
        };
        // A `:` after the last `/` separates the tag; one before it is a registry port.
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], Some(name[slash + i + 1..].to_string())),
            None => (name, None),
        };
        let mut repo = repo.to_ascii_lowercase();
        for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
            if let Some(rest) = repo.strip_prefix(prefix) {
                repo = rest.to_string();
            }
        }
        if let Some(rest) = repo.strip_prefix("library/") {
            repo = rest.to_string();
        }
        ImageRef { repo, tag, digest }
    }

    /// The repository is one of `repos`.
    pub fn is(&self, repos: &[&str]) -> bool {
        repos.contains(&self.repo.as_str())
    }

    /// Numeric version at the start of the tag (`v1.108.5` -> 1.108.5,
    /// `18.1-bookworm` -> 18.1); `None` for `latest`, `main-stable` and the like.
    pub fn version(&self) -> Option<Vec<u64>> {
        self.tag.as_deref().and_then(version)
    }

    /// The tag's version is at least `min`; `None` when the tag carries no version.
    pub fn at_least(&self, min: &[u64]) -> Option<bool> {
        self.version()
            .map(|v| compare(&v, min) != std::cmp::Ordering::Less)
    }
}

pub fn version(tag: &str) -> Option<Vec<u64>> {
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let end = tag
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(tag.len());
    let numbers: Vec<u64> = tag[..end]
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (!numbers.is_empty()).then_some(numbers)
}

/// Versions compared part by part, missing parts counting as 0.
pub fn compare(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    for i in 0..len {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

impl ImageRef {
    /// Why this reference does not pin an image (`no tag means \`latest\``, `` `stable` moves ``);
    /// `None` for a digest or a tag that carries a version.
    pub fn unpinned(&self) -> Option<String> {
        if self.digest {
            return None;
        }
        match self.tag.as_deref() {
            None => Some("no tag means `latest`".to_string()),
            Some(tag) if moves(tag) => Some(format!("`{tag}` moves")),
            Some(_) => None,
        }
    }
}

const MOVING: &[&str] = &[
    "latest", "stable", "main", "master", "nightly", "edge", "dev", "lts", "next", "beta", "canary",
];

/// Variant words: with a moving word, or alone, they name the latest build of the
/// variant (`redis:alpine`, `nginx:stable-alpine`, `open-webui:cuda`).
const VARIANTS: &[&str] = &["alpine", "slim", "cuda", "rocm"];

/// A tag made only of moving and variant words (`main-stable`, `latest-cuda`).
pub fn moves(tag: &str) -> bool {
    let tag = tag.to_ascii_lowercase();
    tag.split(['-', '_'])
        .all(|part| MOVING.contains(&part) || VARIANTS.contains(&part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let i = ImageRef::parse("postgres:18.1-bookworm");
        assert_eq!(i.repo, "postgres");
        assert_eq!(i.version(), Some(vec![18, 1]));
        let i = ImageRef::parse("docker.io/library/redis:8.10.2-alpine");
        assert_eq!(i.repo, "redis");
        let i = ImageRef::parse("registry.local:5000/acme/api");
        assert_eq!(
            (i.repo.as_str(), i.tag),
            ("registry.local:5000/acme/api", None)
        );
        let i = ImageRef::parse("ghcr.io/berriai/litellm:v1.108.5");
        assert_eq!(i.at_least(&[1, 80, 5]), Some(true));
        assert_eq!(ImageRef::parse("x/y:main-stable").version(), None);
        assert!(ImageRef::parse("x/y@sha256:abc").digest);
    }

    #[test]
    fn moving_tags_and_their_variants() {
        for tag in [
            "latest",
            "main-stable",
            "stable-alpine",
            "alpine",
            "cuda",
            "LTS",
        ] {
            assert!(moves(tag), "{tag}");
        }
        for tag in [
            "2.10.2-alpine",
            "v1.77.7-stable",
            "pg18",
            "bookworm",
            "main-v1.2",
            "18",
        ] {
            assert!(!moves(tag), "{tag}");
        }
    }

    #[test]
    fn unpinned_references_say_why() {
        assert_eq!(
            ImageRef::parse("acme/api").unpinned().as_deref(),
            Some("no tag means `latest`")
        );
        assert_eq!(
            ImageRef::parse("redis:alpine").unpinned().as_deref(),
            Some("`alpine` moves")
        );
        assert_eq!(
            ImageRef::parse("n8nio/n8n:stable").unpinned().as_deref(),
            Some("`stable` moves")
        );
        assert_eq!(ImageRef::parse("acme/api:1.4.2").unpinned(), None);
        assert_eq!(
            ImageRef::parse("acme/api:latest@sha256:abc").unpinned(),
            None
        );
    }
}
