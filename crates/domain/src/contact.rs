//! Customer data, parsed at the edge. `Debug` of anything personal is redacted,
//! so a stray `?value` in a log line cannot leak an email or phone number.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of customer data was refused; `field` names the JSON field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    pub field: &'static str,
    pub problem: &'static str,
}

impl InvalidField {
    pub fn new(field: &'static str, problem: &'static str) -> Self {
        Self { field, problem }
    }
}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An email address, trimmed and lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let value = raw.trim().to_lowercase();
        let bad = || InvalidField::new("email", "must be an email address like name@example.com");
        if value.len() > 254 || value.chars().any(char::is_whitespace) || has_control_chars(&value)
        {
            return Err(bad());
        }
        let (local, domain) = value.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(bad());
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A phone number, normalised to an optional leading `+` followed by 7 to 15 digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let bad = || {
            InvalidField::new(
                "phone",
                "must be a phone number of 7 to 15 digits, optionally starting with +",
            )
        };
        let trimmed = raw.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len() + 1);
        if plus {
            digits.push('+');
        }
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '.' | '/' => {}
                _ => return Err(bad()),
            }
        }
        let count = digits.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&count) {
            return Err(bad());
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(<redacted>)")
    }
}

macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidField> {
                let value = raw.trim();
                if value.is_empty() {
                    return Err(InvalidField::new($field, "must not be empty"));
                }
                if value.chars().count() > $max {
                    return Err(InvalidField::new($field, concat!("must be at most ", $max, " characters")));
                }
                if value.chars().any(|c| c.is_control() && c != '\n') {
                    return Err(InvalidField::new($field, "must not contain control characters"));
                }
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

bounded_text!(
    /// A person's name as they typed it.
    PersonName,
    "name",
    200
);
bounded_text!(
    /// Where the visit takes place.
    Address,
    "address",
    500
);

/// The person an appointment is for. At least one way to reach them is required.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: PersonName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
}

impl Customer {
    pub fn new(
        name: PersonName,
        email: Option<Email>,
        phone: Option<Phone>,
        address: Option<Address>,
    ) -> Result<Self, InvalidField> {
        if email.is_none() && phone.is_none() {
            return Err(InvalidField::new(
                "customer",
                "needs an email or a phone number",
            ));
        }
        Ok(Self {
            name,
            email,
            phone,
            address,
        })
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Customer(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Jan@Example.NL ").unwrap().as_str(),
            "jan@example.nl"
        );
        for bad in [
            "",
            "jan",
            "jan@",
            "@example.nl",
            "jan@example",
            "jan @x.nl",
            "a@b..nl",
            "a@.b.nl",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn phones_keep_the_plus_and_digits_only() {
        assert_eq!(
            Phone::parse("+31 (6) 12-34.56 78").unwrap().as_str(),
            "+31612345678"
        );
        assert_eq!(Phone::parse("0612345678").unwrap().as_str(), "0612345678");
        for bad in ["", "123", "+31 6 abc", "1234567890123456", "++31612345678"] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn debug_output_never_shows_personal_data() {
        let customer = Customer::new(
            PersonName::parse("Jan Jansen").unwrap(),
            Some(Email::parse("jan@example.nl").unwrap()),
            Some(Phone::parse("+31612345678").unwrap()),
            Some(Address::parse("Dorpsstraat 1, Utrecht").unwrap()),
        )
        .unwrap();
        let shown = format!("{customer:?} {:?} {:?}", customer.email, customer.phone);
        for secret in ["jan@example.nl", "612345678", "Jansen", "Dorpsstraat"] {
            assert!(!shown.contains(secret), "{shown} leaks {secret}");
        }
    }

    #[test]
    fn a_customer_needs_a_way_to_be_reached() {
        let err = Customer::new(PersonName::parse("Jan").unwrap(), None, None, None).unwrap_err();
        assert_eq!(err.field, "customer");
    }

    #[test]
    fn names_are_bounded_and_free_of_control_characters() {
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(201)).is_err());
        assert!(PersonName::parse("Jan\u{0}").is_err());
        assert_eq!(PersonName::parse(" Jan ").unwrap().as_str(), "Jan");
    }
}
