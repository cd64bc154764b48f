//! Procedural macros of `opmeter-sdk`: `#[contract]` (with `#[provable]` methods) and
//! `#[derive(Event)]`.
//!
//! Use them through `opmeter_sdk` (`opmeter_sdk::contract`, `opmeter_sdk::Event`): the generated
//! code names `::opmeter_sdk::…` paths.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Data, DeriveInput, Error, Fields, FnArg, GenericArgument, ImplItem,
    ImplItemFn, ItemImpl, Pat, PathArguments, ReturnType, Type, Visibility,
};

/// Most topics a typed event may add after topic 0 (the host allows 4 topics per event).
const MAX_TOPIC_FIELDS: usize = 3;

/// Turns every `pub fn` without `self` of an `impl` block into a contract entry point.
///
/// See the `opmeter_sdk` crate documentation for the generated code.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return Error::new(Span::call_site(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut item_impl = parse_macro_input!(item as ItemImpl);
    // `#[provable]` is ours: take it off the methods before re-emitting them.
    let mut provable = Vec::new();
    for item in &mut item_impl.items {
        if let ImplItem::Fn(function) = item {
            let before = function.attrs.len();
            function.attrs.retain(|attr| !is_provable(attr));
            if function.attrs.len() != before {
                provable.push(function.sig.ident.clone());
            }
        }
    }
    match expand_contract(&item_impl, &provable) {
        Ok(generated) => quote!(#item_impl #generated).into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item_impl #error).into()
        }
    }
}

/// Marks a method of a `#[contract]` impl as provable. `#[contract]` consumes it; used anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn provable(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let error = Error::new(
        Span::call_site(),
        "#[provable] goes on a `pub fn` inside a #[contract] impl block",
    )
    .to_compile_error();
    quote!(#error #item).into()
}

/// Derives `opmeter_sdk::Event` for a struct with named fields; `#[topic]` marks topic fields.
///
/// See the `opmeter_sdk::event` module for the encoding.
#[proc_macro_derive(Event, attributes(topic))]
pub fn derive_event(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_event(&input) {
        Ok(generated) => generated.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// One entry point found in the `impl` block.
struct Method<'a> {
    function: &'a ImplItemFn,
    params: Vec<(syn::Ident, &'a Type)>,
}

fn is_provable(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.is_ident("provable")
        || (path.segments.len() == 2
            && path.segments[0].ident == "opmeter_sdk"
            && path.segments[1].ident == "provable")
}

/// The wasm type of a provable parameter or result (`None`: not allowed).
fn integer_type(ty: &Type) -> Option<&'static str> {
    let Type::Path(path) = ty else {
        return None;
    };
    let ident = path.path.get_ident()?.to_string();
    match ident.as_str() {
        "u32" | "i32" | "bool" => Some("i32"),
        "u64" | "i64" => Some("i64"),
        _ => None,
    }
}

/// `provable:<name>`: the integer function itself, exported for the prover and
/// `Vm::call_provable` (the JSON entry point of the same method stays as it is).
fn provable_export(self_ty: &Type, method: &Method<'_>, export: &str) -> syn::Result<TokenStream2> {
    let sig = &method.function.sig;
    for (ident, ty) in &method.params {
        if integer_type(ty).is_none() {
            return Err(Error::new(
                ty.span(),
                format!("provable parameter `{ident}` must be u32, i32, u64, i64 or bool"),
            ));
        }
    }
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) if matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) => None,
        ReturnType::Type(_, ty) => {
            if integer_type(ty).is_none() {
                return Err(Error::new(
                    ty.span(),
                    "a provable method returns u32, i32, u64, i64, bool or nothing",
                ));
            }
            Some(ty)
        }
    };
    let name = &sig.ident;
    let symbol = format_ident!("__opmeter_provable_{}", export);
    let export_name = format!("provable:{export}");
    let params = method.params.iter().map(|(ident, ty)| quote!(#ident: #ty));
    let idents = method.params.iter().map(|(ident, _)| ident);
    let ret = output.map(|ty| quote!(-> #ty));
    Ok(quote! {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[export_name = #export_name]
        extern "C" fn #symbol(#(#params),*) #ret {
            <#self_ty>::#name(#(#idents),*)
        }
    })
}

fn expand_contract(item_impl: &ItemImpl, provable: &[syn::Ident]) -> syn::Result<TokenStream2> {
    if let Some((_, path, _)) = &item_impl.trait_ {
        return Err(Error::new(
            path.span(),
            "#[contract] goes on an inherent impl block, not a trait impl",
        ));
    }
    if !item_impl.generics.params.is_empty() {
        return Err(Error::new(
            item_impl.generics.span(),
            "a contract type cannot be generic",
        ));
    }
    let mut methods = Vec::new();
    for item in &item_impl.items {
        if let ImplItem::Fn(function) = item {
            match entry_point(function)? {
                Some(method) => methods.push(method),
                None if provable.contains(&function.sig.ident) => {
                    return Err(Error::new(
                        function.sig.ident.span(),
                        "#[provable] goes on a `pub fn` without `self` (an entry point)",
                    ));
                }
                None => {}
            }
        }
    }

    let self_ty = &item_impl.self_ty;
    let mut entries = Vec::new();
    let mut table = Vec::new();
    let mut exports = Vec::new();
    for method in &methods {
        let name = &method.function.sig.ident;
        let export = name.to_string();
        let export = export.strip_prefix("r#").unwrap_or(&export).to_string();
        let entry = format_ident!("__opmeter_entry_{}", export);
        let export_fn = format_ident!("__opmeter_export_{}", export);
        let body = entry_body(self_ty, method, &export);
        entries.push(quote! {
            #[doc(hidden)]
            fn #entry() {
                #body
            }
        });
        table.push(quote! {
            ::opmeter_sdk::EntryPoint { name: #export, run: <#self_ty>::#entry }
        });
        exports.push(quote! {
            #[cfg(target_arch = "wasm32")]
            #[allow(unsafe_code)]
            #[export_name = #export]
            extern "C" fn #export_fn() {
                <#self_ty>::#entry()
            }
        });
        if provable.contains(name) {
            exports.push(provable_export(self_ty, method, &export)?);
        }
    }

    Ok(quote! {
        impl #self_ty {
            #(#entries)*
        }

        impl ::opmeter_sdk::Contract for #self_ty {
            const ENTRY_POINTS: &'static [::opmeter_sdk::EntryPoint] = &[#(#table),*];
        }

        #[cfg(not(target_arch = "wasm32"))]
        impl #self_ty {
            /// Runs entry point `method` with raw JSON `input` against the mock host, like the
            /// host would: `Ok(output)` or `Err(revert data)`. Panics if the call traps (e.g. an
            /// unknown method). Native builds only.
            #[allow(unreachable_pub, dead_code)]
            pub fn __dispatch(
                method: &str,
                input: &[u8],
            ) -> ::core::result::Result<
                ::opmeter_sdk::__private::Vec<u8>,
                ::opmeter_sdk::__private::Vec<u8>,
            > {
                ::opmeter_sdk::testing::dispatch::<Self>(method, input)
            }
        }

        const _: () = {
            #(#exports)*
        };
    })
}

/// The entry point of `function`, or `None` if it is not one (not `pub`, or takes `self`).
fn entry_point(function: &ImplItemFn) -> syn::Result<Option<Method<'_>>> {
    let sig = &function.sig;
    if !matches!(function.vis, Visibility::Public(_)) || sig.receiver().is_some() {
        return Ok(None);
    }
    if !sig.generics.params.is_empty() {
        return Err(Error::new(
            sig.generics.span(),
            "an entry point cannot be generic",
        ));
    }
    if let Some(asyncness) = sig.asyncness {
        return Err(Error::new(asyncness.span, "an entry point cannot be async"));
    }
    let name = sig.ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    if name.starts_with("opmeter_") || name == "memory" {
        return Err(Error::new(
            sig.ident.span(),
            "export names `memory` and `opmeter_*` are reserved by the host",
        ));
    }
    let mut params = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        let Pat::Ident(pat) = &*typed.pat else {
            return Err(Error::new(
                typed.pat.span(),
                "entry point parameters must be plain names (they are the JSON argument names)",
            ));
        };
        if matches!(&*typed.ty, Type::Reference(_)) {
            return Err(Error::new(
                typed.ty.span(),
                "entry point parameters must be owned types (e.g. `String`, not `&str`)",
            ));
        }
        params.push((pat.ident.clone(), &*typed.ty));
    }
    Ok(Some(Method { function, params }))
}

/// What to do with a method's return value.
enum Returns<'a> {
    /// Nothing to output: `()`, `!` or no return type.
    Unit,
    /// Output the value as JSON.
    Value,
    /// `Result<T, E>`: output `T` (unless it is `()`), revert with `E`'s text.
    Result { ok_is_unit: bool, _ok: &'a Type },
}

fn returns(output: &ReturnType) -> Returns<'_> {
    let ReturnType::Type(_, ty) = output else {
        return Returns::Unit;
    };
    match &**ty {
        Type::Tuple(tuple) if tuple.elems.is_empty() => Returns::Unit,
        Type::Never(_) => Returns::Unit,
        Type::Path(path) => {
            let Some(last) = path.path.segments.last() else {
                return Returns::Value;
            };
            if last.ident != "Result" {
                return Returns::Value;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return Returns::Value;
            };
            let types: Vec<&Type> = args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect();
            match types.as_slice() {
                [ok, _err] => Returns::Result {
                    ok_is_unit: matches!(ok, Type::Tuple(t) if t.elems.is_empty()),
                    _ok: ok,
                },
                _ => Returns::Value,
            }
        }
        _ => Returns::Value,
    }
}

fn entry_body(self_ty: &Type, method: &Method<'_>, export: &str) -> TokenStream2 {
    let name = &method.function.sig.ident;
    let fields = method.params.iter().map(|(ident, ty)| quote!(#ident: #ty));
    let idents: Vec<&syn::Ident> = method.params.iter().map(|(ident, _)| ident).collect();
    let init_guard = (export == "init").then(|| quote!(::opmeter_sdk::__private::begin_init();));
    let call = quote!(<#self_ty>::#name(#(#idents),*));
    let finish = match returns(&method.function.sig.output) {
        Returns::Unit => quote!(#call;),
        Returns::Value => quote! {
            let __opmeter_result = #call;
            ::opmeter_sdk::__private::write_output(&__opmeter_result);
        },
        Returns::Result {
            ok_is_unit: true, ..
        } => quote! {
            if let ::core::result::Result::Err(__opmeter_error) = #call {
                ::opmeter_sdk::__private::revert_with(__opmeter_error);
            }
        },
        Returns::Result {
            ok_is_unit: false, ..
        } => quote! {
            match #call {
                ::core::result::Result::Ok(__opmeter_value) => {
                    ::opmeter_sdk::__private::write_output(&__opmeter_value);
                }
                ::core::result::Result::Err(__opmeter_error) => {
                    ::opmeter_sdk::__private::revert_with(__opmeter_error);
                }
            }
        },
    };
    if idents.is_empty() {
        return quote! {
            #init_guard
            ::opmeter_sdk::__private::expect_no_args(&::opmeter_sdk::env::input());
            #finish
        };
    }
    quote! {
        #init_guard
        #[derive(::opmeter_sdk::__private::serde::Deserialize)]
        #[serde(crate = "::opmeter_sdk::__private::serde", deny_unknown_fields)]
        struct __OpmeterArgs {
            #(#fields,)*
        }
        let __opmeter_input = ::opmeter_sdk::env::input();
        let __OpmeterArgs { #(#idents),* } =
            ::opmeter_sdk::__private::decode_args::<__OpmeterArgs>(&__opmeter_input);
        ::core::mem::drop(__opmeter_input);
        #finish
    }
}

fn expand_event(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "an event cannot be generic",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            name.span(),
            "#[derive(Event)] needs a struct with named fields",
        ));
    };
    let named: Vec<&syn::Field> = match &data.fields {
        Fields::Named(fields) => fields.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(fields) => {
            return Err(Error::new(
                fields.span(),
                "#[derive(Event)] needs named fields (they are the JSON data keys)",
            ))
        }
    };
    let mut topics = Vec::new();
    let mut data_fields = Vec::new();
    for field in named {
        let ident = field.ident.as_ref().expect("named fields have names");
        if field.attrs.iter().any(|attr| attr.path().is_ident("topic")) {
            topics.push(ident);
        } else {
            data_fields.push((ident, &field.ty));
        }
    }
    if topics.len() > MAX_TOPIC_FIELDS {
        return Err(Error::new(
            name.span(),
            format!(
                "an event has at most {MAX_TOPIC_FIELDS} #[topic] fields (the host allows 4 topics, topic 0 is the name)"
            ),
        ));
    }

    let event_name = name.to_string();
    let hash = blake3::hash(event_name.as_bytes());
    let topic_bytes = hash.as_bytes().iter();
    let data_body = if data_fields.is_empty() {
        quote!(::opmeter_sdk::__private::Vec::from(&b"{}"[..]))
    } else {
        let fields = data_fields
            .iter()
            .map(|(ident, ty)| quote!(#ident: &'__opmeter #ty));
        let values = data_fields
            .iter()
            .map(|(ident, _)| quote!(#ident: &self.#ident));
        quote! {
            #[derive(::opmeter_sdk::__private::serde::Serialize)]
            #[serde(crate = "::opmeter_sdk::__private::serde")]
            struct __OpmeterData<'__opmeter> {
                #(#fields,)*
            }
            ::opmeter_sdk::__private::encode_event_data(&__OpmeterData { #(#values,)* })
        }
    };

    Ok(quote! {
        impl ::opmeter_sdk::Event for #name {
            const NAME: &'static str = #event_name;
            const TOPIC: [u8; 32] = [#(#topic_bytes),*];

            fn topics(&self) -> ::opmeter_sdk::__private::Vec<[u8; 32]> {
                ::opmeter_sdk::__private::vec![
                    <Self as ::opmeter_sdk::Event>::TOPIC,
                    #(::opmeter_sdk::Topic::to_topic(&self.#topics),)*
                ]
            }

            fn data(&self) -> ::opmeter_sdk::__private::Vec<u8> {
                #data_body
            }
        }
    })
}
