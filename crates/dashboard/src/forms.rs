//! Forms that create or change something: described once in Rust, drawn by one template
//! (`form.html`), and shown again after a refusal with what was typed kept and the refused
//! field marked and named, so a person corrects it instead of starting over.

use std::borrow::Cow;

use ordo_app::AppError;
use ordo_domain::FieldError;

use crate::pages::Choice;

/// A form on a page.
pub(crate) struct EntryForm {
    /// The form's element id; each input's id is `{id}-{name}`. Made from a key when a page
    /// repeats the form, one per location say, so no two inputs share an id.
    pub(crate) id: Cow<'static, str>,
    pub(crate) title: &'static str,
    /// A sentence under the title: what the form does.
    pub(crate) about: String,
    pub(crate) action: String,
    pub(crate) submit: &'static str,
    pub(crate) inputs: Vec<Input>,
    /// Why the last attempt was refused, naming the field.
    pub(crate) error: Option<String>,
    /// Sends a file (`multipart/form-data`).
    pub(crate) upload: bool,
}

/// What kind of control an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Text,
    Number,
    Email,
    Password,
    Select,
    File,
    /// Several lines of text.
    TextArea,
    /// Sent with the form, not shown: which kind of thing it proposes, say.
    Hidden,
}

impl Control {
    /// The `type` of an `<input>`.
    pub(crate) fn input_type(self) -> &'static str {
        match self {
            Control::Text | Control::Select | Control::TextArea => "text",
            Control::Number => "number",
            Control::Email => "email",
            Control::Password => "password",
            Control::File => "file",
            Control::Hidden => "hidden",
        }
    }
}

pub(crate) struct Input {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) control: Control,
    pub(crate) value: String,
    pub(crate) choices: Vec<Choice>,
    pub(crate) required: bool,
    pub(crate) hint: String,
    /// Set when the last attempt was refused for this field.
    pub(crate) error: Option<String>,
    /// Never shown again once sent, like a password: a credential typed into a text area.
    pub(crate) secret: bool,
}

impl Input {
    pub(crate) fn text(name: &'static str, label: &'static str) -> Input {
        Input { name, label, control: Control::Text, value: String::new(), choices: Vec::new(), required: true, hint: String::new(), error: None, secret: false }
    }

    pub(crate) fn of(mut self, control: Control) -> Input {
        self.control = control;
        self
    }

    pub(crate) fn optional(mut self) -> Input {
        self.required = false;
        self
    }

    /// Never sent back to the browser after a refusal.
    pub(crate) fn secret(mut self) -> Input {
        self.secret = true;
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Input {
        self.hint = hint.into();
        self
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Input {
        self.value = value.into();
        self
    }

    /// A drop-down of `(value, label)`; the first is chosen unless the value says otherwise.
    pub(crate) fn select(mut self, choices: &[(&str, &str)]) -> Input {
        self.control = Control::Select;
        self.choices = choices.iter().map(|(value, label)| Choice { value: (*value).to_owned(), label: (*label).to_owned(), selected: false }).collect();
        self
    }
}

/// A posted form as it was typed, and why it was refused.
pub(crate) struct Entered {
    fields: Vec<(String, String)>,
    error: FieldError,
}

impl Entered {
    pub(crate) fn new(fields: Vec<(String, String)>, error: FieldError) -> Entered {
        Entered { fields, error }
    }
}

impl EntryForm {
    pub(crate) fn new(id: impl Into<Cow<'static, str>>, title: &'static str, action: impl Into<String>, submit: &'static str, inputs: Vec<Input>) -> EntryForm {
        EntryForm { id: id.into(), title, about: String::new(), action: action.into(), submit, inputs, error: None, upload: false }
    }

    pub(crate) fn about(mut self, about: impl Into<String>) -> EntryForm {
        self.about = about.into();
        self
    }

    pub(crate) fn upload(mut self) -> EntryForm {
        self.upload = true;
        self
    }

    /// The form as it was sent, with its refusal: every value kept (passwords and files are
    /// never sent back), the refused field marked.
    pub(crate) fn entered(mut self, entered: Option<&Entered>) -> EntryForm {
        let Some(entered) = entered else { return self };
        let refused = &entered.error.field;
        for input in &mut self.inputs {
            if !input.secret && !matches!(input.control, Control::Password | Control::File | Control::Hidden) {
                input.value = crate::pages::field(&entered.fields, input.name).to_owned();
            }
            // `lines[0].sku` is the form's `sku` input; the whole name wins when it is one.
            let named = refused == input.name || refused.rsplit('.').next() == Some(input.name) || refused.starts_with(&format!("{}[", input.name));
            if named {
                input.error = Some(entered.error.message.clone());
            }
        }
        self.error = Some(format!("{}: {}", entered.error.field, entered.error.message));
        self
    }

    /// The choices of each drop-down marked with its value.
    pub(crate) fn mark_choices(mut self) -> EntryForm {
        for input in &mut self.inputs {
            let value = input.value.clone();
            for choice in &mut input.choices {
                choice.selected = choice.value == value;
            }
        }
        self
    }
}

/// Whether the use case refused the input (the form is shown again) rather than failing.
pub(crate) fn refusal(error: AppError) -> Result<FieldError, AppError> {
    match error {
        AppError::Invalid(field) | AppError::Duplicate(field) | AppError::InsufficientStock(field) | AppError::IdempotencyConflict(field) => Ok(field),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_form_keeps_what_was_typed_but_no_password_and_names_the_field() {
        let form = EntryForm::new("f", "F", "/x", "Save", vec![
            Input::text("code", "Code"),
            Input::text("priority", "Priority").of(Control::Number),
            Input::text("password", "Password").of(Control::Password),
        ]);
        let typed = vec![("code".to_owned(), "east".to_owned()), ("priority".to_owned(), "first".to_owned()), ("password".to_owned(), "secret".to_owned())];
        let form = form.entered(Some(&Entered::new(typed, FieldError::new("priority", "must be a whole number"))));
        assert_eq!(form.inputs[0].value, "east");
        assert_eq!((form.inputs[1].value.as_str(), form.inputs[1].error.as_deref()), ("first", Some("must be a whole number")));
        assert_eq!((form.inputs[2].value.as_str(), form.inputs[0].error.as_deref()), ("", None));
        assert_eq!(form.error.as_deref(), Some("priority: must be a whole number"));
    }

    #[test]
    fn a_field_inside_a_list_marks_the_input_of_that_name() {
        let form = EntryForm::new("f", "F", "/x", "Save", vec![Input::text("sku", "SKU"), Input::text("lines", "Lines")]);
        let form = form.entered(Some(&Entered::new(Vec::new(), FieldError::new("lines[0].sku", "no such product"))));
        assert!(form.inputs[0].error.is_some() && form.inputs[1].error.is_some());
    }
}
