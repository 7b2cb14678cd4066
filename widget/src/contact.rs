//! The contact form's input, checked before it is sent: a name and a phone
//! number of the shape the server accepts.

/// Which field is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactError {
    Name,
    Phone,
}

/// A name and phone that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub phone: String,
}

/// What `Natter.identify` gives: contact details, and a signed-in user's
/// id with its `userHash` (the HMAC the site's server computed), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub user_hash: Option<String>,
}

/// Longest name the form accepts.
pub const MAX_NAME_CHARS: usize = 100;

impl Contact {
    pub fn parse(name: &str, phone: &str) -> Result<Self, ContactError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ContactError::Name);
        }
        let phone = phone.trim();
        let body = phone.strip_prefix('+').unwrap_or(phone);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        // (`matches!`, not `" -().".contains(c)`: that compiles in a substring search.)
        let shape = body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'));
        if !shape || !(7..=15).contains(&digits) {
            return Err(ContactError::Phone);
        }
        Ok(Self { name: name.to_owned(), phone: phone.to_owned() })
    }
}

/// An e-mail address of the shape the server accepts (a dot-atom local
/// part, a dotted domain of letters, digits and inner hyphens), trimmed.
pub fn email(value: &str) -> Option<String> {
    let email = value.trim();
    let (local, domain) = email.split_once('@')?;
    // Characters are compared with `matches!` (a `&str` of them would compile in a
    // substring search), and any non-ASCII one passes here (Unicode's letter tables
    // would weigh kilobytes): the server has the last word.
    let alnum = |c: char| c.is_ascii_alphanumeric() || !c.is_ascii();
    let atext = |c: char| {
        alnum(c)
            || matches!(
                c,
                '!' | '#'
                    | '$'
                    | '%'
                    | '&'
                    | '\''
                    | '*'
                    | '+'
                    | '/'
                    | '='
                    | '?'
                    | '^'
                    | '_'
                    | '`'
                    | '{'
                    | '|'
                    | '}'
                    | '~'
                    | '-'
            )
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| alnum(c) || c == '-')
    };
    let ok = email.len() <= 254
        && local.len() <= 64
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
        && domain.contains('.')
        && domain.split('.').all(label);
    ok.then(|| email.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked_as_the_server_checks_them() {
        assert_eq!(email("  olena@example.com "), Some("olena@example.com".into()));
        assert_eq!(email("o.k+tag@mail.example.ua"), Some("o.k+tag@mail.example.ua".into()));
        for bad in [
            "",
            "olena",
            "olena@",
            "@example.com",
            "olena@example",
            "o..k@example.com",
            "o k@example.com",
            "olena@-example.com",
            "olena@example..com",
            "a@b@example.com",
        ] {
            assert_eq!(email(bad), None, "{bad}");
        }
        assert_eq!(email(&format!("{}@example.com", "a".repeat(65))), None);
    }

    #[test]
    fn a_name_and_an_international_phone_are_accepted_trimmed() {
        let c = Contact::parse("  Olena ", " +380 (44) 123-45-67 ").expect("valid");
        assert_eq!(c, Contact { name: "Olena".into(), phone: "+380 (44) 123-45-67".into() });
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert_eq!(Contact::parse("  ", "+380441234567"), Err(ContactError::Name));
    }

    #[test]
    fn phones_with_letters_or_too_few_digits_are_refused() {
        assert_eq!(Contact::parse("Olena", "call me"), Err(ContactError::Phone));
        assert_eq!(Contact::parse("Olena", "12345"), Err(ContactError::Phone));
        assert_eq!(Contact::parse("Olena", "+1234567890123456"), Err(ContactError::Phone));
    }
}
