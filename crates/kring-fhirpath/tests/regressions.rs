//! Expressions that once broke the evaluator.

use kring_fhirpath::{EvalContext, Expr, NoTypeModel};

#[test]
fn dollar_this_lexes_and_evaluates() {
    let v = serde_json::json!({"resourceType": "Patient", "name": [{"given": ["Peter", "Jim"]}]});
    let e = Expr::parse("Patient.name.given.where(substring($this.length()-3) = 'ter')").unwrap();
    let r = e.evaluate(&EvalContext::new(&NoTypeModel), &v).unwrap();
    assert_eq!(r.len(), 1);
}

#[test]
fn a_date_literal_ends_at_a_method_call() {
    let e = Expr::parse("@2015-02.is(Date)").unwrap();
    let r = e
        .evaluate(&EvalContext::new(&NoTypeModel), &serde_json::Value::Null)
        .unwrap();
    assert_eq!(format!("{:?}", r[0].to_primitive()), "Some(Boolean(true))");
}
