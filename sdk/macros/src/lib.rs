//! Procedural macros of `opmeter-sdk`: `#[contract]` (with `#[provable]` methods),
//! `#[derive(Event)]` and `#[derive(JsonEncode, JsonDecode)]`.
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

/// Derives `opmeter_sdk::JsonEncode` for a struct with named fields: an object of the fields in
/// declaration order.
#[proc_macro_derive(JsonEncode)]
pub fn derive_json_encode(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_json_encode(&input) {
        Ok(generated) => generated.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Derives `opmeter_sdk::JsonDecode` for a struct with named fields: an object (unknown fields
/// rejected, `Option` fields may be absent) or an array of the fields in order.
#[proc_macro_derive(JsonDecode)]
pub fn derive_json_decode(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_json_decode(&input) {
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
    let idents: Vec<&syn::Ident> = method.params.iter().map(|(ident, _)| ident).collect();
    let init_guard = (export == "init").then(|| quote!(::opmeter_sdk::__private::begin_init();));
    let call = quote!(<#self_ty>::#name(#(#idents),*));
    let revert = quote! {
        {
            #[allow(unused_imports)]
            use ::opmeter_sdk::__private::{RevertWithDisplay as _, RevertWithText as _};
            (&::opmeter_sdk::__private::ErrorText(&__opmeter_error)).revert_with()
        }
    };
    let finish = match returns(&method.function.sig.output) {
        Returns::Unit => quote!(#call;),
        Returns::Value => quote! {
            let __opmeter_result = #call;
            ::opmeter_sdk::__private::write_output(&__opmeter_result);
        },
        Returns::Result {
            ok_is_unit: true, ..
        } => quote! {
            if let ::core::result::Result::Err(__opmeter_error) = #call #revert
        },
        Returns::Result {
            ok_is_unit: false, ..
        } => quote! {
            match #call {
                ::core::result::Result::Ok(__opmeter_value) => {
                    ::opmeter_sdk::__private::write_output(&__opmeter_value);
                }
                ::core::result::Result::Err(__opmeter_error) => #revert,
            }
        },
    };
    if idents.is_empty() {
        return quote! {
            #init_guard
            ::opmeter_sdk::__private::no_args();
            #finish
        };
    }
    let fields: Vec<(String, &Type)> = method
        .params
        .iter()
        .map(|(ident, ty)| (unraw(ident), *ty))
        .collect();
    let decode = decode_fields("__OpmeterArgs", &fields, |values| quote!((#(#values,)*)));
    quote! {
        #init_guard
        let __opmeter_input = ::opmeter_sdk::env::input();
        let (#(#idents,)*) = ::opmeter_sdk::__private::decode_args(
            &__opmeter_input,
            |__opmeter_parser| #decode,
        );
        ::core::mem::drop(__opmeter_input);
        #finish
    }
}

/// An identifier as JSON names it (without `r#`).
fn unraw(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").unwrap_or(&name).to_string()
}

/// A block decoding the named `fields` of struct `struct_name` from `__opmeter_parser` into the
/// value `build` makes of the field values (in order): `Result<_, json::Error>`.
fn decode_fields(
    struct_name: &str,
    fields: &[(String, &Type)],
    build: impl FnOnce(Vec<TokenStream2>) -> TokenStream2,
) -> TokenStream2 {
    let expected = format!("struct {struct_name}");
    let expected_len = format!(
        "struct {struct_name} with {} element{}",
        fields.len(),
        if fields.len() == 1 { "" } else { "s" }
    );
    let names: Vec<&String> = fields.iter().map(|(name, _)| name).collect();
    let slots: Vec<syn::Ident> = (0..fields.len())
        .map(|i| format_ident!("__opmeter_slot{}", i))
        .collect();
    let declarations = fields
        .iter()
        .zip(&slots)
        .map(|((_, ty), slot)| quote!(let mut #slot: ::core::option::Option<#ty> = None;));
    let arms = fields
        .iter()
        .zip(&slots)
        .enumerate()
        .map(|(i, ((name, _), slot))| {
            if i + 1 == fields.len() {
                quote!(_ => __opmeter_parser.field(&mut #slot, #name))
            } else {
                quote!(#i => __opmeter_parser.field(&mut #slot, #name))
            }
        });
    let values = fields
        .iter()
        .zip(&slots)
        .map(|((name, _), slot)| quote!(__opmeter_parser.take(#slot, #name)?))
        .collect();
    let value = build(values);
    quote! {{
        #(#declarations)*
        __opmeter_parser.object(
            #expected,
            #expected_len,
            &[#(#names),*],
            |__opmeter_parser, __opmeter_index| match __opmeter_index { #(#arms,)* },
        )?;
        ::core::result::Result::Ok(#value)
    }}
}

/// The named fields of a struct, or an error naming the derive.
fn named_fields<'a>(input: &'a DeriveInput, derive: &str) -> syn::Result<Vec<&'a syn::Field>> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            format!("#[derive({derive})] does not support generics"),
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            input.ident.span(),
            format!("#[derive({derive})] needs a struct with named fields"),
        ));
    };
    match &data.fields {
        Fields::Named(fields) => Ok(fields.named.iter().collect()),
        Fields::Unit => Ok(Vec::new()),
        Fields::Unnamed(fields) => Err(Error::new(
            fields.span(),
            format!("#[derive({derive})] needs named fields (they are the JSON keys)"),
        )),
    }
}

/// The statements appending `{"a":…,"b":…}` of `fields` (taken from `value.field`) to `out`.
fn encode_object(fields: &[&syn::Ident], value: &TokenStream2) -> TokenStream2 {
    if fields.is_empty() {
        return quote!(__opmeter_out.extend_from_slice(b"{}"););
    }
    let parts = fields.iter().enumerate().map(|(i, ident)| {
        let open = if i == 0 { "{" } else { "," };
        let key = syn::LitByteStr::new(
            format!("{open}\"{}\":", unraw(ident)).as_bytes(),
            Span::call_site(),
        );
        quote!(::opmeter_sdk::__private::encode_field(__opmeter_out, #key, &#value.#ident);)
    });
    quote! {
        #(#parts)*
        __opmeter_out.push(b'}');
    }
}

fn expand_json_encode(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let fields = named_fields(input, "JsonEncode")?;
    let idents: Vec<&syn::Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let body = encode_object(&idents, &quote!(self));
    Ok(quote! {
        impl ::opmeter_sdk::json::JsonEncode for #name {
            fn encode_json(&self, __opmeter_out: &mut ::opmeter_sdk::__private::Vec<u8>) {
                #body
            }
        }
    })
}

fn expand_json_decode(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let fields = named_fields(input, "JsonDecode")?;
    let idents: Vec<&syn::Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let named: Vec<(String, &Type)> = fields
        .iter()
        .filter_map(|f| Some((unraw(f.ident.as_ref()?), &f.ty)))
        .collect();
    let decode = if named.is_empty() {
        quote! {{
            __opmeter_parser.object(
                ::core::concat!("struct ", ::core::stringify!(#name)),
                ::core::concat!("struct ", ::core::stringify!(#name), " with 0 elements"),
                &[],
                |_, _| ::core::result::Result::Ok(()),
            )?;
            ::core::result::Result::Ok(#name {})
        }}
    } else {
        decode_fields(
            &name.to_string(),
            &named,
            |values| quote!(#name { #(#idents: #values),* }),
        )
    };
    Ok(quote! {
        impl ::opmeter_sdk::json::JsonDecode for #name {
            fn decode_json(
                __opmeter_parser: &mut ::opmeter_sdk::json::Parser<'_>,
            ) -> ::core::result::Result<#name, ::opmeter_sdk::json::Error> {
                #decode
            }
        }
    })
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
            data_fields.push(ident);
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
    let data_body = encode_object(&data_fields, &quote!(self));
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
                let mut __opmeter_data = ::opmeter_sdk::__private::Vec::with_capacity(
                    ::opmeter_sdk::__private::JSON_CAPACITY,
                );
                let __opmeter_out = &mut __opmeter_data;
                #data_body
                __opmeter_data
            }

            fn emit(&self) {
                // The topics on the stack, not in a vector.
                ::opmeter_sdk::env::emit_raw_event(
                    &[
                        <Self as ::opmeter_sdk::Event>::TOPIC,
                        #(::opmeter_sdk::Topic::to_topic(&self.#topics),)*
                    ],
                    &<Self as ::opmeter_sdk::Event>::data(self),
                );
            }
        }
    })
}
