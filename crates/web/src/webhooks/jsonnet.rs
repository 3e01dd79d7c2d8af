//! Jsonnet payload programs, the default payload language (docs/adr/0003), evaluated with
//! `rsjsonnet-lang`. A program is what Ory Kratos takes for a web-hook body: either a function of
//! `ctx`, called with the web-hook context as its top-level argument `ctx`,
//!
//! ```jsonnet
//! function(ctx) { user_id: ctx.identity.id, email: ctx.identity.traits.email }
//! ```
//!
//! or a plain value. The result, manifested as JSON, is the request body. `error "cancel"` skips
//! the hook for that event, as in Kratos.
//!
//! The sandbox:
//!
//! * no `import`, `importstr` or `importbin`: the program is checked for them when it is loaded,
//!   and the interpreter has no loader (no file or network access), so a template is
//!   self-contained;
//! * no `std.extVar` values and no native functions; `std.trace` output is dropped;
//! * a call-stack limit of [`MAX_STACK`] frames (go-jsonnet's default): deeper recursion is an
//!   evaluation error, never a crash (the interpreter keeps its own stack on the heap);
//! * a time bound: the interpreter has no step limit and cannot be interrupted, so each
//!   evaluation runs on a blocking thread and is awaited for at most [`EVAL_TIMEOUT`]. A runaway
//!   evaluation is abandoned (its delivery fails) and the thread finishes it in the background;
//!   at most [`MAX_RUNNING`] evaluations run at once, so abandoned ones cannot pile up: while
//!   they are all taken, further payloads fail.
//!
//! The interpreter is single-threaded and its state cannot move between threads, so a hook keeps
//! its checked source and each evaluation loads it into a fresh interpreter; nothing carries from
//! one delivery to the next.

use rsjsonnet_lang::arena::Arena;
use rsjsonnet_lang::interner::{InternedStr, StrInterner};
use rsjsonnet_lang::lexer::{LexError, Lexer};
use rsjsonnet_lang::parser::{ActualToken, ExpectedToken, ParseError};
use rsjsonnet_lang::program::{
    AnalyzeError, Callbacks, EvalError, EvalErrorKind, EvalStackTraceItem, ImportError, LoadError,
    NativeError, Program, Thunk, Value,
};
use rsjsonnet_lang::span::{SpanContextId, SpanId, SpanManager};
use rsjsonnet_lang::token::{STokenKind, TokenKind};
use std::sync::Arc;
use std::time::Duration;

/// The deepest call stack a program may build.
pub const MAX_STACK: usize = 500;
/// How long one evaluation may take before it is abandoned.
pub const EVAL_TIMEOUT: Duration = Duration::from_secs(2);
/// Evaluations running at once, abandoned ones included.
pub const MAX_RUNNING: usize = 4;

/// What a program gave for one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request body (JSON).
    Body(String),
    /// `error "cancel"`: no request for this event.
    Cancelled,
}

/// A checked program: it lexes, parses and names no unknown variable, and it imports nothing.
#[derive(Debug)]
pub struct JsonnetTemplate {
    /// Shown as `std.thisFile` and in messages.
    name: String,
    source: String,
}

impl JsonnetTemplate {
    /// Checks `source`; the error says what is wrong and where (`line:column`).
    pub fn parse(name: &str, source: &str) -> Result<Self, String> {
        refuse_imports(source)?;
        let template = Self {
            name: format!("{name}.jsonnet"),
            source: source.to_owned(),
        };
        let arena = Arena::new();
        let mut program = Program::new(&arena);
        template.load(&mut program)?;
        Ok(template)
    }

    /// Evaluates the program for `ctx` in this thread, in a fresh interpreter.
    pub fn evaluate(&self, ctx: &serde_json::Value) -> Result<Outcome, String> {
        let arena = Arena::new();
        let mut program = Program::new(&arena);
        program.set_max_stack(MAX_STACK);
        let (thunk, span_ctx) = self.load(&mut program)?;
        let mut callbacks = Sandbox;
        let located = |program: &Program<'_>, err: EvalError| -> Result<Outcome, String> {
            match err.kind {
                EvalErrorKind::ExplicitError { ref message, .. } if message == "cancel" => {
                    Ok(Outcome::Cancelled)
                }
                _ => Err(describe_eval(program, span_ctx, &self.source, &err)),
            }
        };
        let value = match program.eval_value(&thunk, &mut callbacks) {
            Ok(value) => value,
            Err(err) => return located(&program, err),
        };
        let value = if value.is_function() {
            let function = program.value_to_thunk(&value);
            let ctx_value = to_jsonnet(&mut program, ctx);
            let ctx_thunk = program.value_to_thunk(&ctx_value);
            let name = program.intern_str("ctx");
            match program.eval_call(&function, &[], &[(name, ctx_thunk)], &mut callbacks) {
                Ok(value) => value,
                Err(err) => return located(&program, err),
            }
        } else {
            value
        };
        match program.manifest_json(&value, false) {
            Ok(json) => Ok(Outcome::Body(json)),
            Err(err) => located(&program, err),
        }
    }

    fn load<'p>(&self, program: &mut Program<'p>) -> Result<(Thunk<'p>, SpanContextId), String> {
        let (span_ctx, _) = program
            .span_manager_mut()
            .insert_source_context(self.source.len());
        let thunk = program
            .load_source(span_ctx, self.source.as_bytes(), true, &self.name)
            .map_err(|err| describe_load(program.span_manager(), span_ctx, &self.source, &err))?;
        Ok((thunk, span_ctx))
    }
}

/// Evaluates `template` for `ctx` on a blocking thread, waiting at most [`EVAL_TIMEOUT`].
pub async fn evaluate_bounded(
    template: Arc<JsonnetTemplate>,
    ctx: serde_json::Value,
) -> Result<Outcome, String> {
    evaluate_within(template, ctx, EVAL_TIMEOUT).await
}

async fn evaluate_within(
    template: Arc<JsonnetTemplate>,
    ctx: serde_json::Value,
    limit: Duration,
) -> Result<Outcome, String> {
    static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RUNNING);
    let Ok(permit) = RUNNING.try_acquire() else {
        return Err(format!(
            "{MAX_RUNNING} payload evaluations are already running (earlier ones may have run away)"
        ));
    };
    let task = tokio::task::spawn_blocking(move || {
        // Held until the evaluation really ends, even once nobody waits for it.
        let _permit = permit;
        template.evaluate(&ctx)
    });
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Err("the evaluation failed unexpectedly".to_owned()),
        Err(_) => Err(format!(
            "the evaluation took longer than {} ms and was abandoned",
            limit.as_millis()
        )),
    }
}

/// Evaluates `template` for `ctx` on a thread of its own, waiting at most [`EVAL_TIMEOUT`]; for
/// checks outside the async runtime (start-up).
pub fn evaluate_with_timeout(
    template: &Arc<JsonnetTemplate>,
    ctx: serde_json::Value,
) -> Result<Outcome, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let template = Arc::clone(template);
    std::thread::Builder::new()
        .name("webhook-jsonnet".to_owned())
        .spawn(move || {
            // The receiver may be gone after a timeout; nothing left to tell then.
            let _ = tx.send(template.evaluate(&ctx));
        })
        .map_err(|e| format!("cannot start the evaluation: {e}"))?;
    match rx.recv_timeout(EVAL_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the evaluation took longer than {}s",
            EVAL_TIMEOUT.as_secs()
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err("the evaluation failed unexpectedly".to_owned())
        }
    }
}

/// No imports, no natives, no trace output.
struct Sandbox;

impl<'p> Callbacks<'p> for Sandbox {
    fn import(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<Thunk<'p>, ImportError> {
        Err(ImportError)
    }

    fn import_str(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<String, ImportError> {
        Err(ImportError)
    }

    fn import_bin(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<Vec<u8>, ImportError> {
        Err(ImportError)
    }

    fn trace(&mut self, _: &mut Program<'p>, _: &str, _: &[EvalStackTraceItem]) {}

    fn native_call(
        &mut self,
        _: &mut Program<'p>,
        _: InternedStr<'p>,
        _: &[Value<'p>],
    ) -> Result<Value<'p>, NativeError> {
        Err(NativeError)
    }
}

/// Refuses a program with an `import`, `importstr` or `importbin` anywhere, evaluated or not.
fn refuse_imports(source: &str) -> Result<(), String> {
    let arena = Arena::new();
    let ast_arena = Arena::new();
    let interner = StrInterner::new();
    let mut spans = SpanManager::new();
    let (span_ctx, _) = spans.insert_source_context(source.len());
    let tokens = Lexer::new(
        &arena,
        &ast_arena,
        &interner,
        &mut spans,
        span_ctx,
        source.as_bytes(),
    )
    .lex_to_eof(false)
    .map_err(|err| describe_load(&spans, span_ctx, source, &LoadError::Lex(err)))?;
    for token in tokens {
        let keyword = match token.kind {
            TokenKind::Simple(STokenKind::Import) => "import",
            TokenKind::Simple(STokenKind::Importstr) => "importstr",
            TokenKind::Simple(STokenKind::Importbin) => "importbin",
            _ => continue,
        };
        return Err(format!(
            "{}: `{keyword}` is not allowed: a payload template must be self-contained",
            position(&spans, span_ctx, source, token.span)
        ));
    }
    Ok(())
}

/// A JSON value as a Jsonnet value.
fn to_jsonnet<'p>(program: &mut Program<'p>, value: &serde_json::Value) -> Value<'p> {
    use serde_json::Value as J;
    match value {
        J::Null => Value::null(),
        J::Bool(b) => Value::bool(*b),
        J::Number(n) => Value::number(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::string(s),
        J::Array(items) => {
            let items: Vec<_> = items.iter().map(|v| to_jsonnet(program, v)).collect();
            program.make_array(&items)
        }
        J::Object(fields) => {
            let fields: Vec<_> = fields
                .iter()
                .map(|(k, v)| (program.intern_str(k), to_jsonnet(program, v)))
                .collect();
            program.make_object(&fields)
        }
    }
}

/// `line L, column C` of `span` in the template (1-based), or "the standard library".
fn position(spans: &SpanManager, ours: SpanContextId, source: &str, span: SpanId) -> String {
    let (context, start, _) = spans.get_span(span);
    if context != ours {
        return "in the standard library".to_owned();
    }
    let before = source.get(..start).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

fn describe_load(
    spans: &SpanManager,
    ours: SpanContextId,
    source: &str,
    err: &LoadError,
) -> String {
    let at = |span| position(spans, ours, source, span);
    match err {
        LoadError::Lex(err) => {
            let (span, what) = lex_error(err);
            format!("{}: syntax error: {what}", at(span))
        }
        LoadError::Parse(ParseError::Expected {
            span,
            expected,
            instead,
        }) => {
            let expected: Vec<_> = expected.iter().map(expected_token).collect();
            format!(
                "{}: syntax error: expected {}, found {}",
                at(*span),
                expected.join(" or "),
                actual_token(instead)
            )
        }
        LoadError::Analyze(err) => match err {
            AnalyzeError::UnknownVariable { span, name } => {
                format!("{}: unknown variable `{name}`", at(*span))
            }
            AnalyzeError::SelfOutsideObject { self_span: span } => {
                format!("{}: `self` outside an object", at(*span))
            }
            AnalyzeError::SuperOutsideObject { super_span: span } => {
                format!("{}: `super` outside an object", at(*span))
            }
            AnalyzeError::DollarOutsideObject { dollar_span: span } => {
                format!("{}: `$` outside an object", at(*span))
            }
            AnalyzeError::RepeatedLocalName {
                repeated_span: span,
                name,
                ..
            }
            | AnalyzeError::RepeatedFieldName {
                repeated_span: span,
                name,
                ..
            }
            | AnalyzeError::RepeatedParamName {
                repeated_span: span,
                name,
                ..
            } => format!("{}: `{name}` is defined twice", at(*span)),
            AnalyzeError::PositionalArgAfterNamed { arg_span: span } => {
                format!("{}: a positional argument after a named one", at(*span))
            }
            AnalyzeError::TextBlockAsImportPath { span }
            | AnalyzeError::ComputedImportPath { span } => {
                format!("{}: imports are not allowed", at(*span))
            }
        },
    }
}

fn lex_error(err: &LexError) -> (SpanId, String) {
    use LexError as E;
    match err {
        E::InvalidChar { span, chr } => (*span, format!("unexpected character {chr:?}")),
        E::InvalidUtf8 { span, .. } => (*span, "invalid UTF-8".to_owned()),
        E::UnfinishedMultilineComment { span } => (*span, "unclosed `/*` comment".to_owned()),
        E::LeadingZeroInNumber { span }
        | E::MissingFracDigits { span }
        | E::MissingExpDigits { span }
        | E::MissingDigitAfterUnderscore { span }
        | E::ExpOverflow { span } => (*span, "malformed number".to_owned()),
        E::InvalidEscapeInString { span, chr } => {
            (*span, format!("invalid escape `\\{chr}` in a string"))
        }
        E::IncompleteUnicodeEscape { span } | E::InvalidUtf16EscapeSequence { span, .. } => {
            (*span, "invalid `\\u` escape in a string".to_owned())
        }
        E::UnfinishedString { span } => (*span, "unclosed string".to_owned()),
        E::MissingLineBreakAfterTextBlockStart { span }
        | E::MissingWhitespaceTextBlockStart { span }
        | E::InvalidTextBlockTermination { span } => {
            (*span, "malformed `|||` text block".to_owned())
        }
    }
}

fn expected_token(token: &ExpectedToken) -> String {
    match token {
        ExpectedToken::EndOfFile => "the end".to_owned(),
        ExpectedToken::Simple(kind) => format!("`{}`", token_text(*kind)),
        ExpectedToken::Ident => "a name".to_owned(),
        ExpectedToken::Number => "a number".to_owned(),
        ExpectedToken::String | ExpectedToken::TextBlock => "a string".to_owned(),
        ExpectedToken::Expr => "an expression".to_owned(),
        ExpectedToken::BinaryOp => "an operator".to_owned(),
    }
}

/// How a keyword or symbol is written.
fn token_text(kind: STokenKind) -> String {
    use STokenKind as S;
    let text = match kind {
        S::Self_ => "self",
        S::Exclam => "!",
        S::ExclamEq => "!=",
        S::Dollar => "$",
        S::Percent => "%",
        S::Amp => "&",
        S::AmpAmp => "&&",
        S::LeftParen => "(",
        S::RightParen => ")",
        S::Asterisk => "*",
        S::Plus => "+",
        S::PlusColon => "+:",
        S::PlusColonColon => "+::",
        S::PlusColonColonColon => "+:::",
        S::Comma => ",",
        S::Minus => "-",
        S::Dot => ".",
        S::Slash => "/",
        S::Colon => ":",
        S::ColonColon => "::",
        S::ColonColonColon => ":::",
        S::Semicolon => ";",
        S::Lt => "<",
        S::LtLt => "<<",
        S::LtEq => "<=",
        S::Eq => "=",
        S::EqEq => "==",
        S::Gt => ">",
        S::GtEq => ">=",
        S::GtGt => ">>",
        S::LeftBracket => "[",
        S::RightBracket => "]",
        S::Hat => "^",
        S::LeftBrace => "{",
        S::Pipe => "|",
        S::PipePipe => "||",
        S::RightBrace => "}",
        S::Tilde => "~",
        keyword => return format!("{keyword:?}").to_lowercase(),
    };
    text.to_owned()
}

fn actual_token(token: &ActualToken) -> String {
    match token {
        ActualToken::EndOfFile => "the end".to_owned(),
        ActualToken::Simple(kind) => format!("`{}`", token_text(*kind)),
        ActualToken::OtherOp(op) => format!("`{op}`"),
        ActualToken::Ident(name) => format!("`{name}`"),
        ActualToken::Number => "a number".to_owned(),
        ActualToken::String | ActualToken::TextBlock => "a string".to_owned(),
    }
}

/// What went wrong while evaluating, and where in the template.
fn describe_eval(
    program: &Program<'_>,
    ours: SpanContextId,
    source: &str,
    err: &EvalError,
) -> String {
    use EvalErrorKind as K;
    let spans = program.span_manager();
    let (span, what) = match &err.kind {
        K::StackOverflow => (
            None,
            format!("too deep: more than {MAX_STACK} nested calls"),
        ),
        K::InfiniteRecursion => (None, "a value is defined in terms of itself".to_owned()),
        K::UnknownObjectField { span, field_name } => {
            (Some(*span), format!("field `{field_name}` does not exist"))
        }
        K::ExplicitError { span, message } => (Some(*span), format!("error: {message}")),
        K::AssertFailed { span, message } => (
            Some(*span),
            format!(
                "assertion failed{}",
                message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        ),
        K::ImportFailed { span, path } => (
            Some(*span),
            format!("cannot import {path:?}: imports are not allowed"),
        ),
        K::UnknownExtVar { name } => (
            None,
            format!("no external variable {name:?}: use `ctx` instead"),
        ),
        K::ManifestFunction => (
            None,
            "the result holds a function, which is not JSON".to_owned(),
        ),
        K::NativeCallFailed => (None, "native functions are not available".to_owned()),
        K::CallParamNotBound { span, param_name } => (
            *span,
            format!(
                "parameter `{param_name}` has no value (the template is called with `ctx` only)"
            ),
        ),
        K::UnknownCallParam { span, param_name } => (
            *span,
            format!("no parameter `{param_name}` (a template function takes `ctx`)"),
        ),
        K::Other { span, message } => (*span, message.clone()),
        other => (first_span(other), kind_name(other)),
    };
    let span = span.or_else(|| {
        err.stack_trace.iter().find_map(|item| match item {
            EvalStackTraceItem::Expr { span } | EvalStackTraceItem::Variable { span, .. } => {
                Some(*span)
            }
            _ => None,
        })
    });
    match span {
        Some(span) => format!("{}: {what}", position(spans, ours, source, span)),
        None => what,
    }
}

/// The location of the other evaluation errors.
fn first_span(kind: &EvalErrorKind) -> Option<SpanId> {
    use EvalErrorKind as K;
    match kind {
        K::InvalidIndexedType { span, .. }
        | K::InvalidSlicedType { span, .. }
        | K::SliceIndexOrStepIsNotNumber { span, .. }
        | K::StringIndexIsNotNumber { span, .. }
        | K::ArrayIndexIsNotNumber { span, .. }
        | K::NumericIndexIsNotValid { span, .. }
        | K::NumericIndexOutOfRange { span, .. }
        | K::ObjectIndexIsNotString { span, .. }
        | K::RepeatedFieldName { span, .. }
        | K::FieldNameIsNotString { span, .. }
        | K::FieldOfNonObject { span }
        | K::SuperWithoutSuperObject { span }
        | K::ForSpecValueIsNotArray { span, .. }
        | K::CondIsNotBool { span, .. }
        | K::InvalidUnaryOpType { span, .. } => Some(*span),
        K::CalleeIsNotFunction { span, .. }
        | K::TooManyCallArgs { span, .. }
        | K::RepeatedCallParam { span, .. }
        | K::InvalidBinaryOpTypes { span, .. }
        | K::NumberNotBitwiseSafe { span }
        | K::NumberOverflow { span }
        | K::NumberNan { span }
        | K::DivByZero { span }
        | K::ShiftByNegative { span } => *span,
        _ => None,
    }
}

/// The error's kind as words, with the values it carries but not its spans
/// (`InvalidBinaryOpTypes { op: Add, lhs_type: String, rhs_type: Number }`).
fn kind_name(kind: &EvalErrorKind) -> String {
    let debug = format!("{kind:?}");
    // Spans are meaningless numbers here: drop `span: SpanId(..)` and `span: Some(SpanId(..))`.
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("span: ") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find([',', '}']).unwrap_or(after.len());
        let end = if after[end..].starts_with(", ") {
            end + 2
        } else {
            end
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out.replace("{ }", "").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as J, json};

    fn body(source: &str, ctx: &J) -> J {
        let template = JsonnetTemplate::parse("crm", source).expect("parses");
        match template.evaluate(ctx).expect("evaluates") {
            Outcome::Body(body) => serde_json::from_str(&body).expect("json"),
            Outcome::Cancelled => panic!("cancelled"),
        }
    }

    fn eval_error(source: &str) -> String {
        let template = JsonnetTemplate::parse("crm", source).expect("parses");
        template.evaluate(&json!({})).expect_err("fails")
    }

    #[test]
    fn a_function_of_ctx_gets_the_context() {
        let ctx = json!({"identity": {"id": "abc", "traits": {"email": "a@example.com"}}});
        let out = body(
            "function(ctx) { user_id: ctx.identity.id, email: ctx.identity.traits.email }",
            &ctx,
        );
        assert_eq!(out, json!({"user_id": "abc", "email": "a@example.com"}));
    }

    #[test]
    fn a_plain_value_is_the_body() {
        let out = body(
            "local n = 2; { n: n * 21, list: [1, 'two', null, true] }",
            &json!({}),
        );
        assert_eq!(out, json!({"n": 42, "list": [1, "two", null, true]}));
    }

    #[test]
    fn any_json_value_may_be_the_body_but_not_a_function_inside() {
        assert_eq!(body("[1, 2]", &json!({})), json!([1, 2]));
        assert_eq!(body("'text'", &json!({})), json!("text"));
        assert_eq!(body("function(ctx) null", &json!({})), J::Null);
        assert_eq!(body("3.5", &json!({})), json!(3.5));
        let err = eval_error("{ f: function(x) x }");
        assert!(err.contains("function"), "{err}");
    }

    #[test]
    fn values_from_the_context_keep_their_type_and_text() {
        let ctx = json!({"identity": {"traits": {
            "name": "Ada\", \"admin\": true, \"x\": \"\n",
            "age": 36, "tags": ["a", "b"], "nested": {"ok": false}
        }}});
        let out = body("function(ctx) ctx.identity.traits", &ctx);
        assert_eq!(out, ctx["identity"]["traits"]);
    }

    #[test]
    fn imports_are_refused_when_loaded() {
        for source in [
            "local lib = import 'lib.libsonnet'; {}",
            "function(ctx) { key: importstr '/etc/passwd' }",
            "{ b: importbin 'x' }",
        ] {
            let err = JsonnetTemplate::parse("crm", source).expect_err("refused");
            assert!(
                err.contains("not allowed") && err.contains("line 1"),
                "{err}"
            );
        }
        // The word inside a string or a field name is no import.
        let out = body("{ import_note: 'import this' }", &json!({}));
        assert_eq!(out["import_note"], "import this");
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = JsonnetTemplate::parse(
            "crm",
            "function(ctx) {\n  user_id: ctx.identity.id,\n  email: \n}",
        )
        .expect_err("refused");
        assert!(
            err.contains("line 4, column 1") && err.contains("syntax error"),
            "{err}"
        );
        let err = JsonnetTemplate::parse("crm", "{ a: 'unclosed }").expect_err("refused");
        assert!(err.contains("unclosed string"), "{err}");
        let err =
            JsonnetTemplate::parse("crm", "function(ctx) { a: context.id }").expect_err("refused");
        assert!(
            err.contains("unknown variable `context`") && err.contains("column 20"),
            "{err}"
        );
    }

    #[test]
    fn deep_recursion_is_an_error_not_a_crash() {
        let err = eval_error("local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(1000000)");
        assert!(err.contains("too deep"), "{err}");
        let err = eval_error("local x = x + 1; x");
        assert!(!err.is_empty(), "{err}");
        // Moderate depth is fine.
        assert_eq!(
            body(
                "local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(100)",
                &json!({})
            ),
            json!(100)
        );
    }

    #[test]
    fn runtime_errors_name_the_place() {
        let err = eval_error("function(ctx) {\n  id: ctx.identity.id }");
        assert!(
            err.contains("line 2") && err.contains("`identity` does not exist"),
            "{err}"
        );
        let err = eval_error("{ a: 1 + 'x' } + { b: error 'boom' }");
        assert!(err.contains("line 1"), "{err}");
        let err = eval_error("function(context) {}");
        assert!(err.contains("`ctx`"), "{err}");
        let err = eval_error("std.extVar('secret')");
        assert!(err.contains("external variable"), "{err}");
    }

    #[test]
    fn error_cancel_skips_the_hook() {
        let template = JsonnetTemplate::parse(
            "crm",
            "function(ctx) if ctx.flow.type == 'api' then error 'cancel' else { ok: true }",
        )
        .expect("parses");
        assert_eq!(
            template.evaluate(&json!({"flow": {"type": "api"}})),
            Ok(Outcome::Cancelled)
        );
        assert_eq!(
            template.evaluate(&json!({"flow": {"type": "browser"}})),
            Ok(Outcome::Body(r#"{"ok": true}"#.to_owned()))
        );
    }

    #[tokio::test]
    async fn a_runaway_evaluation_is_abandoned() {
        let template = Arc::new(
            JsonnetTemplate::parse(
                "crm",
                "local inner(i) = std.foldl(function(b, j) b + 1, std.range(0, 2000), 0);
                 std.foldl(function(a, i) a + inner(i), std.range(0, 2000), 0)",
            )
            .expect("parses"),
        );
        let limit = Duration::from_millis(50);
        let started = std::time::Instant::now();
        let err = evaluate_within(template, json!({}), limit)
            .await
            .expect_err("abandoned");
        assert!(err.contains("abandoned"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
