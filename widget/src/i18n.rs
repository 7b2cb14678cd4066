//! The widget's strings in English, Ukrainian and Russian, and the choice of
//! locale from a language tag.

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Uk,
    Ru,
}

impl Locale {
    /// `en`, `uk` or `ru` exactly.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "en" => Some(Self::En),
            "uk" => Some(Self::Uk),
            "ru" => Some(Self::Ru),
            _ => None,
        }
    }

    /// The locale for a browser language tag such as `uk-UA`; English when unsupported.
    pub fn from_language_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        Self::parse(&primary).unwrap_or_default()
    }

    pub const fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Uk => "uk",
            Self::Ru => "ru",
        }
    }

    pub const fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::Uk => &UK,
            Self::Ru => &RU,
        }
    }
}

/// Every piece of text the widget shows.
#[derive(Debug)]
pub struct Strings {
    pub open_chat: &'static str,
    pub close_chat: &'static str,
    pub default_title: &'static str,
    pub placeholder: &'static str,
    pub send: &'static str,
    pub unread: &'static str,
    pub typing: &'static str,
    pub contact_intro: &'static str,
    pub name: &'static str,
    pub phone: &'static str,
    pub submit_contact: &'static str,
    pub bad_name: &'static str,
    pub bad_phone: &'static str,
    pub sending: &'static str,
    pub sent: &'static str,
    pub delivered: &'static str,
    pub read: &'static str,
    pub offline: &'static str,
    pub messages: &'static str,
    pub earlier: &'static str,
    pub attach: &'static str,
    pub too_large: &'static str,
    pub bad_type: &'static str,
    pub not_sent: &'static str,
    pub rate: &'static str,
    pub rate_thanks: &'static str,
    pub comment: &'static str,
    pub away_intro: &'static str,
    pub email: &'static str,
    pub bad_email: &'static str,
}

const EN: Strings = Strings {
    open_chat: "Open chat",
    close_chat: "Close chat",
    default_title: "Chat with us",
    placeholder: "Type a message…",
    send: "Send",
    unread: "unread messages",
    typing: "Typing…",
    contact_intro: "Leave your contact details so we can reach you.",
    name: "Name",
    phone: "Phone",
    submit_contact: "Save",
    bad_name: "Please enter your name.",
    bad_phone: "Please enter a phone number of 7 to 15 digits.",
    sending: "Sending",
    sent: "Sent",
    delivered: "Delivered",
    read: "Read",
    offline: "Offline: messages will be sent when the connection returns.",
    messages: "Messages",
    earlier: "Earlier messages",
    attach: "Attach a file",
    too_large: "The file is too large to send.",
    bad_type: "This type of file cannot be sent.",
    not_sent: "The file could not be sent.",
    rate: "How was this conversation?",
    rate_thanks: "Thank you for your rating.",
    comment: "Comment (optional)",
    away_intro: "We are away right now. Leave your e-mail and we will answer there.",
    email: "E-mail",
    bad_email: "Please enter an e-mail address like name@example.com.",
};

const UK: Strings = Strings {
    open_chat: "Відкрити чат",
    close_chat: "Закрити чат",
    default_title: "Напишіть нам",
    placeholder: "Введіть повідомлення…",
    send: "Надіслати",
    unread: "непрочитаних повідомлень",
    typing: "Друкує…",
    contact_intro: "Залиште контакти, щоб ми могли з вами зв'язатися.",
    name: "Ім'я",
    phone: "Телефон",
    submit_contact: "Зберегти",
    bad_name: "Вкажіть ваше ім'я.",
    bad_phone: "Вкажіть номер телефону з 7–15 цифр.",
    sending: "Надсилається",
    sent: "Надіслано",
    delivered: "Доставлено",
    read: "Прочитано",
    offline: "Немає з'єднання: повідомлення надійдуть, щойно воно з'явиться.",
    messages: "Повідомлення",
    earlier: "Попередні повідомлення",
    attach: "Додати файл",
    too_large: "Файл завеликий, щоб його надіслати.",
    bad_type: "Файли цього типу надіслати не можна.",
    not_sent: "Не вдалося надіслати файл.",
    rate: "Як вам ця розмова?",
    rate_thanks: "Дякуємо за оцінку.",
    comment: "Коментар (необов'язково)",
    away_intro: "Зараз нас немає на місці. Залиште e-mail, і ми відповімо туди.",
    email: "E-mail",
    bad_email: "Введіть адресу на зразок name@example.com.",
};

const RU: Strings = Strings {
    open_chat: "Открыть чат",
    close_chat: "Закрыть чат",
    default_title: "Напишите нам",
    placeholder: "Введите сообщение…",
    send: "Отправить",
    unread: "непрочитанных сообщений",
    typing: "Печатает…",
    contact_intro: "Оставьте контакты, чтобы мы могли с вами связаться.",
    name: "Имя",
    phone: "Телефон",
    submit_contact: "Сохранить",
    bad_name: "Укажите ваше имя.",
    bad_phone: "Укажите номер телефона из 7–15 цифр.",
    sending: "Отправляется",
    sent: "Отправлено",
    delivered: "Доставлено",
    read: "Прочитано",
    offline: "Нет соединения: сообщения уйдут, как только оно появится.",
    messages: "Сообщения",
    earlier: "Предыдущие сообщения",
    attach: "Прикрепить файл",
    too_large: "Файл слишком большой, чтобы его отправить.",
    bad_type: "Файлы этого типа отправить нельзя.",
    not_sent: "Не удалось отправить файл.",
    rate: "Как вам этот разговор?",
    rate_thanks: "Спасибо за оценку.",
    comment: "Комментарий (необязательно)",
    away_intro: "Сейчас нас нет на месте. Оставьте e-mail, и мы ответим туда.",
    email: "E-mail",
    bad_email: "Введите адрес вида name@example.com.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_language_tags_pick_their_locale() {
        assert_eq!(Locale::from_language_tag("uk-UA"), Locale::Uk);
        assert_eq!(Locale::from_language_tag("ru"), Locale::Ru);
        assert_eq!(Locale::from_language_tag("EN_gb"), Locale::En);
    }

    #[test]
    fn unsupported_languages_fall_back_to_english() {
        assert_eq!(Locale::from_language_tag("de-DE"), Locale::En);
        assert_eq!(Locale::from_language_tag(""), Locale::En);
    }

    #[test]
    fn each_locale_has_its_own_strings() {
        assert_eq!(Locale::Uk.strings().send, "Надіслати");
        assert_eq!(Locale::Ru.strings().send, "Отправить");
        assert_eq!(Locale::En.strings().send, "Send");
    }
}
