//! Every way proving or verifying can fail, each with a stable numeric code.

use crate::compile::NotProvable;

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal => $text:literal,)*) => {
        /// The stable numeric code of a [`ProverError`] (for JSON-RPC and the CLI).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        pub enum ErrorCode { $($(#[$doc])* $name = $code,)* }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The code with number `code`.
            pub fn from_u16(code: u16) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$name),)*
                    _ => None,
                }
            }

            /// The stable camelCase name (JSON-RPC `data.reason`, the CLI's `--json`).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)*
                }
            }

            /// The numeric code.
            pub fn number(self) -> u16 {
                self as u16
            }
        }
    };
}

codes! {
    /// The method is outside the provable subset.
    NotProvable = 1 => "notProvable",
    /// The program has more instructions than the profile's slots.
    ProfileTooSmall = 2 => "profileTooSmall",
    /// The call did not return within the profile's steps.
    StepBoundExceeded = 3 => "stepBoundExceeded",
    /// No profile has that name.
    UnknownProfile = 4 => "unknownProfile",
    /// Keys are not where they were looked for.
    KeysMissing = 5 => "keysMissing",
    /// Keys fail their hash check, do not decode, or belong to another profile.
    KeysCorrupt = 6 => "keysCorrupt",
    /// Proof bytes do not decode as a proof.
    MalformedProof = 7 => "malformedProof",
    /// The proof does not verify against the statement.
    InvalidProof = 8 => "invalidProof",
    /// The call traps (e.g. division by zero, `unreachable`).
    ExecutionTrapped = 9 => "executionTrapped",
    /// The arguments do not match the method's parameters.
    WrongArguments = 10 => "wrongArguments",
    /// Every proving slot is taken.
    Busy = 11 => "proverBusy",
    /// Reading or writing key files failed.
    Io = 12 => "keysIo",
    /// The constraint system could not be built (a bug).
    Internal = 13 => "proverInternal",
    /// The node stopped before the job finished (its proof was not made; submit it again).
    Interrupted = 14 => "proverInterrupted",
}

/// Why proving, verifying or handling keys failed.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The method is outside the provable subset.
    #[error("{0}")]
    NotProvable(NotProvable),
    /// The program does not fit the profile.
    #[error("the program has {instructions} instructions; profile `{profile}` holds {slots}")]
    ProfileTooSmall {
        /// The profile.
        profile: String,
        /// Program length.
        instructions: usize,
        /// The profile's slots.
        slots: usize,
    },
    /// The call needs more steps than the profile proves.
    #[error("the call does not return within the {steps} steps of profile `{profile}`")]
    StepBoundExceeded {
        /// The profile.
        profile: String,
        /// Its step bound.
        steps: usize,
    },
    /// No such profile.
    #[error("no profile named `{0}`")]
    UnknownProfile(String),
    /// Keys are missing.
    #[error("no keys for profile `{profile}` at {path}")]
    KeysMissing {
        /// The profile.
        profile: String,
        /// Where they were looked for.
        path: String,
    },
    /// Keys are corrupt or for another profile.
    #[error("keys at {path} are unusable: {reason}")]
    KeysCorrupt {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
    /// Proof bytes do not decode.
    #[error("malformed proof: {0}")]
    MalformedProof(String),
    /// The proof does not verify.
    #[error("the proof does not verify against the statement")]
    InvalidProof,
    /// The call traps.
    #[error("the call traps (at instruction {pc}), so there is nothing to prove")]
    ExecutionTrapped {
        /// The instruction that failed its check.
        pc: u64,
    },
    /// Wrong arguments.
    #[error("wrong arguments: {0}")]
    WrongArguments(String),
    /// No free proving slot.
    #[error("all {0} proving slots are busy")]
    Busy(usize),
    /// This client already has as many jobs waiting as one client may (same code as
    /// [`ProverError::Busy`]: retry when one of them has started).
    #[error("this client already has {0} prove jobs waiting, the most one client may; retry when one starts")]
    ClientBusy(usize),
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The constraint system failed (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// The node stopped while the job was queued or being proven; nothing was proven.
    #[error("the node stopped before this job was proven; submit it again")]
    Interrupted,
}

impl ProverError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProverError::NotProvable(_) => ErrorCode::NotProvable,
            ProverError::ProfileTooSmall { .. } => ErrorCode::ProfileTooSmall,
            ProverError::StepBoundExceeded { .. } => ErrorCode::StepBoundExceeded,
            ProverError::UnknownProfile(_) => ErrorCode::UnknownProfile,
            ProverError::KeysMissing { .. } => ErrorCode::KeysMissing,
            ProverError::KeysCorrupt { .. } => ErrorCode::KeysCorrupt,
            ProverError::MalformedProof(_) => ErrorCode::MalformedProof,
            ProverError::InvalidProof => ErrorCode::InvalidProof,
            ProverError::ExecutionTrapped { .. } => ErrorCode::ExecutionTrapped,
            ProverError::WrongArguments(_) => ErrorCode::WrongArguments,
            ProverError::Busy(_) | ProverError::ClientBusy(_) => ErrorCode::Busy,
            ProverError::Io { .. } => ErrorCode::Io,
            ProverError::Internal(_) => ErrorCode::Internal,
            ProverError::Interrupted => ErrorCode::Interrupted,
        }
    }
}

impl From<ark_relations::gr1cs::SynthesisError> for ProverError {
    fn from(e: ark_relations::gr1cs::SynthesisError) -> Self {
        ProverError::Internal(e.to_string())
    }
}
