//! Which client a resource belongs to: the Patient itself, or the Patient its compartment
//! parameters refer to (`Observation.subject`, `CarePlan.subject` …). Everything else is shared.

use kring_fhir::index::{IndexEntry, IndexValue};
use kring_fhir::Definitions;
use kring_store::SHARED_KEY;

pub fn client_key(defs: &Definitions, rtype: &str, id: &str, index: &[IndexEntry]) -> String {
    if rtype == "Patient" {
        return id.to_string();
    }
    for param in defs.patient_compartment_params(rtype) {
        for e in index.iter().filter(|e| &e.param == param) {
            if let IndexValue::Reference {
                target_type: Some(t),
                target_id: Some(pid),
                ..
            } = &e.value
            {
                if t == "Patient" {
                    return pid.clone();
                }
            }
        }
    }
    SHARED_KEY.to_string()
}
