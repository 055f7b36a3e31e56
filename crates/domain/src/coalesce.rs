//! Coalescing: pending jobs of one appointment that have not started are run
//! together with the job before them. Their notes and tasks are all written
//! (each change keeps its history); their contact updates are merged into one
//! set of calls, with the same result as applying them one after the other:
//! for every tag the last operation wins (adding then removing a tag is one
//! removal, never an add and a remove), for every custom field the last value.

use std::collections::BTreeMap;

use crate::plan::{EffectPlan, EffectStep, FieldValue};

/// The contact update (tags and fields only) equal to applying `plans` in order.
pub fn merge_contact_updates<'a>(plans: impl IntoIterator<Item = &'a EffectPlan>) -> EffectPlan {
    // Tag → (order of first mention, last operation is an add).
    let mut tags: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
    let mut fields: Vec<FieldValue> = Vec::new();
    let mut order = 0;
    for plan in plans {
        let ops = plan
            .add_tags
            .iter()
            .map(|t| (t, true))
            .chain(plan.remove_tags.iter().map(|t| (t, false)));
        for (tag, add) in ops {
            let entry = tags.entry(tag.as_str()).or_insert((order, add));
            entry.1 = add;
            order += 1;
        }
        for field in &plan.custom_fields {
            match fields.iter_mut().find(|f| f.key == field.key) {
                Some(existing) => existing.value = field.value.clone(),
                None => fields.push(field.clone()),
            }
        }
    }
    let mut ordered: Vec<(usize, &str, bool)> =
        tags.into_iter().map(|(t, (i, add))| (i, t, add)).collect();
    ordered.sort_unstable();
    let pick = |want: bool| {
        ordered
            .iter()
            .filter(|(_, _, add)| *add == want)
            .map(|(_, t, _)| (*t).to_owned())
            .collect()
    };
    EffectPlan {
        note: None,
        add_tags: pick(true),
        remove_tags: pick(false),
        custom_fields: fields,
        task: None,
    }
}

/// The contact-update calls a plan makes (tags added, tags removed, fields).
pub fn contact_calls(plan: &EffectPlan) -> u32 {
    plan.steps()
        .into_iter()
        .filter(|s| !s.creates_a_record())
        .count() as u32
}

/// The contact-update steps, in execution order.
pub const CONTACT_STEPS: [EffectStep; 3] = [
    EffectStep::AddTags,
    EffectStep::RemoveTags,
    EffectStep::CustomFields,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn plan(add: &[&str], remove: &[&str], fields: &[(&str, &str)]) -> EffectPlan {
        EffectPlan {
            note: None,
            add_tags: add.iter().map(|t| t.to_string()).collect(),
            remove_tags: remove.iter().map(|t| t.to_string()).collect(),
            custom_fields: fields
                .iter()
                .map(|(k, v)| FieldValue {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            task: None,
        }
    }

    /// Tags as GHL holds them after the plan's add and remove calls.
    fn apply(tags: &mut BTreeSet<String>, plan: &EffectPlan) {
        tags.extend(plan.add_tags.iter().cloned());
        for t in &plan.remove_tags {
            tags.remove(t);
        }
    }

    #[test]
    fn create_confirm_and_cancel_pending_together_become_one_set_of_calls() {
        let create = plan(
            &["appointment-scheduled"],
            &[],
            &[
                ("appointment_status", "scheduled"),
                ("next_appointment_date", "2030-05-01"),
            ],
        );
        let confirm = plan(
            &["appointment-confirmed"],
            &["appointment-scheduled"],
            &[
                ("appointment_status", "confirmed"),
                ("next_appointment_date", "2030-05-01"),
            ],
        );
        let cancel = plan(
            &["appointment-cancelled"],
            &["appointment-confirmed", "appointment-scheduled"],
            &[
                ("appointment_status", "cancelled"),
                ("next_appointment_date", ""),
            ],
        );
        let merged = merge_contact_updates([&create, &confirm, &cancel]);
        assert_eq!(merged.add_tags, ["appointment-cancelled"]);
        assert_eq!(
            merged.remove_tags,
            ["appointment-scheduled", "appointment-confirmed"]
        );
        assert_eq!(
            merged.custom_fields,
            plan(
                &[],
                &[],
                &[
                    ("appointment_status", "cancelled"),
                    ("next_appointment_date", "")
                ]
            )
            .custom_fields
        );
        let separate: u32 = [&create, &confirm, &cancel]
            .into_iter()
            .map(contact_calls)
            .sum();
        assert_eq!((separate, contact_calls(&merged)), (8, 3));
    }

    proptest! {
        #[test]
        fn merging_gives_what_applying_one_after_the_other_gives(
            start in proptest::collection::btree_set("[abc]", 0..3),
            ops in proptest::collection::vec(
                (proptest::collection::vec("[abcd]", 0..3), proptest::collection::vec("[abcd]", 0..3)),
                1..5,
            ),
        ) {
            let plans: Vec<EffectPlan> = ops
                .iter()
                .map(|(add, remove)| {
                    // A plan never adds and removes the same tag.
                    let remove: Vec<&str> = remove.iter().map(String::as_str).filter(|r| !add.contains(&r.to_string())).collect();
                    let add: Vec<&str> = add.iter().map(String::as_str).collect();
                    plan(&add, &remove, &[])
                })
                .collect();
            let mut one_by_one = start.clone();
            for p in &plans {
                apply(&mut one_by_one, p);
            }
            let mut merged = start;
            let m = merge_contact_updates(&plans);
            prop_assert!(m.add_tags.iter().all(|t| !m.remove_tags.contains(t)));
            apply(&mut merged, &m);
            prop_assert_eq!(merged, one_by_one);
        }
    }
}
