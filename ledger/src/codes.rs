//! Stable codes from one definition: [`stable_codes!`](crate::stable_codes) declares a fieldless
//! enum with an explicit code and a stable name per variant, and derives `code`, `name`,
//! `from_code`, `from_name` and `ALL` from that one list, so a variant cannot be missing from a
//! round trip or a table.
//!
//! ```
//! opmeter_ledger::stable_codes! {
//!     /// Colours.
//!     #[derive(Clone, Copy, Debug, PartialEq, Eq)]
//!     pub enum Colour: u8 {
//!         /// Red.
//!         Red = 1 => "red",
//!         /// Blue.
//!         Blue = 2 => "blue",
//!     }
//! }
//! assert_eq!(Colour::ALL, [Colour::Red, Colour::Blue]);
//! assert_eq!(Colour::from_code(2), Some(Colour::Blue));
//! assert_eq!(Colour::from_name("red").map(Colour::code), Some(1));
//! assert_eq!(Colour::from_code(0), None);
//! ```

/// Declares an enum with stable numeric codes and names; see the [module docs](crate::codes).
#[macro_export]
macro_rules! stable_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant = $code, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable numeric code.
            pub const fn code(self) -> $repr {
                self as $repr
            }

            /// The stable name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant with this code.
            pub fn from_code(code: $repr) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The variant with this name.
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
