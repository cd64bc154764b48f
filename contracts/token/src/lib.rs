//! A fungible token with `U256` balances and allowances (ERC-20 style), emitting `Transfer` and
//! `Approval` events.

#![no_std]

use opmeter_sdk::prelude::*;

const NAME: Item<String> = Item::new("name");
const SYMBOL: Item<String> = Item::new("symbol");
const TOTAL_SUPPLY: Item<U256> = Item::new("total_supply");
const BALANCES: Map<Address, U256> = Map::new("balances");
/// Keyed by `(owner, spender)`.
const ALLOWANCES: Map<(Address, Address), U256> = Map::new("allowances");

/// Tokens moved (`from` is the zero address for the initial mint).
#[derive(Event)]
pub struct Transfer {
    /// The sender.
    #[topic]
    pub from: Address,
    /// The receiver.
    #[topic]
    pub to: Address,
    /// How much.
    pub amount: U256,
}

/// An allowance was set.
#[derive(Event)]
pub struct Approval {
    /// Whose tokens.
    #[topic]
    pub owner: Address,
    /// Who may spend them.
    #[topic]
    pub spender: Address,
    /// The new allowance.
    pub amount: U256,
}

/// The token contract.
pub struct Token;

#[contract]
impl Token {
    /// Creates the token and mints the whole `supply` to the deployer.
    pub fn init(name: String, symbol: String, supply: U256) {
        let owner = env::caller();
        NAME.save(&name);
        SYMBOL.save(&symbol);
        TOTAL_SUPPLY.save(&supply);
        BALANCES.save(&owner, &supply);
        Transfer {
            from: Address::ZERO,
            to: owner,
            amount: supply,
        }
        .emit();
    }

    /// The token's name.
    pub fn name() -> String {
        NAME.load()
    }

    /// The token's symbol.
    pub fn symbol() -> String {
        SYMBOL.load()
    }

    /// All tokens in existence.
    pub fn total_supply() -> U256 {
        TOTAL_SUPPLY.load_or_default()
    }

    /// The balance of `owner`.
    pub fn balance_of(owner: Address) -> U256 {
        BALANCES.load_or_default(&owner)
    }

    /// Moves `amount` from the caller to `to`.
    ///
    /// # Errors
    ///
    /// `insufficient balance`.
    pub fn transfer(to: Address, amount: U256) -> Result<(), &'static str> {
        move_tokens(env::caller(), to, amount)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens (replaces the allowance).
    pub fn approve(spender: Address, amount: U256) {
        let owner = env::caller();
        ALLOWANCES.save(&(owner, spender), &amount);
        Approval {
            owner,
            spender,
            amount,
        }
        .emit();
    }

    /// How much `spender` may still move of `owner`'s tokens.
    pub fn allowance(owner: Address, spender: Address) -> U256 {
        ALLOWANCES.load_or_default(&(owner, spender))
    }

    /// Moves `amount` from `from` to `to` on the caller's allowance.
    ///
    /// # Errors
    ///
    /// `insufficient allowance`, `insufficient balance`.
    pub fn transfer_from(from: Address, to: Address, amount: U256) -> Result<(), &'static str> {
        let key = (from, env::caller());
        let allowed = ALLOWANCES.load_or_default(&key);
        let left = allowed
            .checked_sub(amount)
            .ok_or("insufficient allowance")?;
        ALLOWANCES.save(&key, &left);
        move_tokens(from, to, amount)
    }
}

fn move_tokens(from: Address, to: Address, amount: U256) -> Result<(), &'static str> {
    let from_balance = BALANCES.load_or_default(&from);
    let from_left = from_balance
        .checked_sub(amount)
        .ok_or("insufficient balance")?;
    BALANCES.save(&from, &from_left);
    // Loaded after the debit, so a transfer to oneself is a no-op.
    let to_balance = BALANCES.load_or_default(&to);
    // Cannot overflow: the total supply is fixed and fits a U256.
    let to_credited = to_balance.checked_add(amount).ok_or("balance overflow")?;
    BALANCES.save(&to, &to_credited);
    Transfer { from, to, amount }.emit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing;

    const ALICE: Address = testing::DEFAULT_CALLER;
    const BOB: Address = Address::repeat_byte(0xb0);
    const CAROL: Address = Address::repeat_byte(0xc1);

    fn u(value: u64) -> U256 {
        U256::from(value)
    }

    fn deploy() {
        Token::init("Opmeter Token".into(), "OPM".into(), u(1_000));
    }

    #[test]
    fn init_mints_to_the_deployer() {
        deploy();
        assert_eq!(Token::name(), "Opmeter Token");
        assert_eq!(Token::symbol(), "OPM");
        assert_eq!(Token::total_supply(), u(1_000));
        assert_eq!(Token::balance_of(ALICE), u(1_000));
        assert!(testing::has_event(&Transfer {
            from: Address::ZERO,
            to: ALICE,
            amount: u(1_000),
        }));
    }

    #[test]
    fn transfer_moves_balance_and_emits() {
        deploy();
        assert_eq!(Token::transfer(BOB, u(300)), Ok(()));
        assert_eq!(Token::balance_of(ALICE), u(700));
        assert_eq!(Token::balance_of(BOB), u(300));
        assert!(testing::has_event(&Transfer {
            from: ALICE,
            to: BOB,
            amount: u(300),
        }));
        // To oneself: nothing changes.
        assert_eq!(Token::transfer(ALICE, u(700)), Ok(()));
        assert_eq!(Token::balance_of(ALICE), u(700));
    }

    #[test]
    fn insufficient_balance_reverts_without_effects() {
        deploy();
        let events = testing::events().len();
        let input = format!(r#"{{"to":"{BOB}","amount":"1001"}}"#);
        let result = Token::__dispatch("transfer", input.as_bytes());
        assert_eq!(result, Err(b"insufficient balance".to_vec()));
        assert_eq!(Token::balance_of(ALICE), u(1_000));
        assert_eq!(Token::balance_of(BOB), u(0));
        assert_eq!(testing::events().len(), events);
    }

    #[test]
    fn approve_then_transfer_from() {
        deploy();
        Token::approve(BOB, u(100));
        assert_eq!(Token::allowance(ALICE, BOB), u(100));
        assert!(testing::has_event(&Approval {
            owner: ALICE,
            spender: BOB,
            amount: u(100),
        }));

        testing::set_caller(BOB);
        assert_eq!(Token::transfer_from(ALICE, CAROL, u(60)), Ok(()));
        assert_eq!(Token::balance_of(CAROL), u(60));
        assert_eq!(Token::balance_of(ALICE), u(940));
        assert_eq!(Token::allowance(ALICE, BOB), u(40));
        let over = format!(r#"{{"from":"{ALICE}","to":"{CAROL}","amount":"41"}}"#);
        assert_eq!(
            Token::__dispatch("transfer_from", over.as_bytes()),
            Err(b"insufficient allowance".to_vec())
        );
        assert_eq!(
            Token::transfer_from(ALICE, CAROL, u(41)),
            Err("insufficient allowance")
        );
        assert_eq!(Token::allowance(ALICE, BOB), u(40));
    }

    #[test]
    fn json_interface() {
        let init = br#"{"name":"T","symbol":"T","supply":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}"#;
        assert_eq!(Token::__dispatch("init", init), Ok(vec![]));
        let query = format!(r#"{{"owner":"{ALICE}"}}"#);
        assert_eq!(
            Token::__dispatch("balance_of", query.as_bytes()),
            Ok(br#""115792089237316195423570985008687907853269984665640564039457584007913129639935""#.to_vec())
        );
        assert_eq!(Token::__dispatch("name", b""), Ok(br#""T""#.to_vec()));
        let bad = Token::__dispatch("balance_of", br#"{"owner":"0x12"}"#).unwrap_err();
        assert!(bad.starts_with(b"invalid arguments: address must have 64 hex digits"));
    }
}
