//! Literal references (`Patient/123`, `Patient/123/_history/2`, absolute URLs, `urn:uuid:…`).

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `Type/id` (optionally versioned), relative to this server.
    Local {
        rtype: String,
        id: String,
        version: Option<String>,
    },
    /// An absolute URL, `urn:uuid:` or `urn:oid:`.
    External(String),
    /// `#id` pointing into `contained`.
    Contained(String),
}

/// Whether `id` is a valid FHIR logical id: 1–64 of `[A-Za-z0-9\-\.]`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Parses a reference string; `None` when it has no recognisable form.
pub fn parse(reference: &str, is_resource_type: impl Fn(&str) -> bool) -> Option<Reference> {
    if let Some(id) = reference.strip_prefix('#') {
        return Some(Reference::Contained(id.to_string()));
    }
    if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        return Some(Reference::External(reference.to_string()));
    }
    let parts: Vec<&str> = reference.split('/').collect();
    let absolute = reference.contains("://");
    // Type/id or …/Type/id/_history/v at the end.
    let (rtype, id, version) = if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        (
            parts[parts.len() - 4],
            parts[parts.len() - 3],
            Some(parts[parts.len() - 1].to_string()),
        )
    } else if parts.len() >= 2 {
        (parts[parts.len() - 2], parts[parts.len() - 1], None)
    } else {
        return None;
    };
    if absolute {
        return Some(Reference::External(reference.to_string()));
    }
    if (parts.len() == 2 || (parts.len() == 4 && version.is_some()))
        && is_resource_type(rtype)
        && is_valid_id(id)
    {
        return Some(Reference::Local {
            rtype: rtype.to_string(),
            id: id.to_string(),
            version,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    fn rt(t: &str) -> bool {
        t == "Patient"
    }
    #[test]
    fn forms() {
        assert_eq!(
            parse("Patient/1", rt),
            Some(Reference::Local {
                rtype: "Patient".into(),
                id: "1".into(),
                version: None
            })
        );
        assert_eq!(
            parse("Patient/1/_history/3", rt).and_then(|r| match r {
                Reference::Local { version, .. } => version,
                _ => None,
            }),
            Some("3".into())
        );
        assert!(matches!(
            parse("http://x.org/fhir/Patient/1", rt),
            Some(Reference::External(_))
        ));
        assert!(matches!(parse("#c1", rt), Some(Reference::Contained(_))));
        assert_eq!(parse("Nonsense/1", rt), None);
        assert_eq!(parse("Patient", rt), None);
        assert_eq!(parse("Patient/a b", rt), None);
    }
}
