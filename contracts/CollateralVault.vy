# pragma version 0.4.3
"""
@title Keel collateral vault
@notice Custody of one ERC20 collateral token for a desk's option book: deposits,
        withdrawals of free collateral, option positions opened by the operator with
        margin locked from the writer, and cash settlement of expired options against
        the price the oracle posts for the expiry.
@dev    Units: collateral in the token's base units; `size` in underlying base units;
        `strike` and settlement prices in collateral base units per ONE whole underlying
        unit (10**underlying_decimals base units).  Payoff of a call is
        (S - K) * size / 10**underlying_decimals, of a put (K - S) * size / ..., rounded
        down, and capped at the margin the writer locked (the holder can never take more
        than was locked; the writer keeps the rest).
"""

from ethereum.ercs import IERC20

struct OptionPosition:
    writer: address
    holder: address
    is_call: bool
    strike: uint256
    size: uint256
    expiry: uint256
    margin: uint256
    settled: bool

event Deposit:
    account: indexed(address)
    amount: uint256

event Withdraw:
    account: indexed(address)
    amount: uint256

event OptionOpened:
    option_id: indexed(uint256)
    writer: indexed(address)
    holder: indexed(address)
    margin: uint256

event SettlementPrice:
    expiry: indexed(uint256)
    price: uint256

event Settled:
    option_id: indexed(uint256)
    payoff: uint256
    returned: uint256

collateral: public(IERC20)
underlying_decimals: public(uint8)
operator: public(address)
oracle: public(address)
free_balance: public(HashMap[address, uint256])
locked_balance: public(HashMap[address, uint256])
options: public(HashMap[uint256, OptionPosition])
option_count: public(uint256)
settlement_price: public(HashMap[uint256, uint256])


@deploy
def __init__(_collateral: address, _underlying_decimals: uint8, _oracle: address):
    assert _collateral != empty(address), "zero collateral"
    assert _oracle != empty(address), "zero oracle"
    self.collateral = IERC20(_collateral)
    self.underlying_decimals = _underlying_decimals
    self.operator = msg.sender
    self.oracle = _oracle


@external
def deposit(_amount: uint256):
    assert _amount > 0, "zero amount"
    assert extcall self.collateral.transferFrom(msg.sender, self, _amount), "transferFrom failed"
    self.free_balance[msg.sender] += _amount
    log Deposit(account=msg.sender, amount=_amount)


@external
def withdraw(_amount: uint256):
    assert _amount > 0, "zero amount"
    assert self.free_balance[msg.sender] >= _amount, "insufficient free collateral"
    self.free_balance[msg.sender] -= _amount
    assert extcall self.collateral.transfer(msg.sender, _amount), "transfer failed"
    log Withdraw(account=msg.sender, amount=_amount)


@view
@external
def collateral_of(_account: address) -> uint256:
    return self.free_balance[_account] + self.locked_balance[_account]


@external
def open_option(_writer: address, _holder: address, _is_call: bool, _strike: uint256, _size: uint256,
                _expiry: uint256, _margin: uint256) -> uint256:
    assert msg.sender == self.operator, "not operator"
    assert _size > 0, "zero size"
    assert _expiry > block.timestamp, "expired"
    assert self.free_balance[_writer] >= _margin, "insufficient free collateral"
    self.free_balance[_writer] -= _margin
    self.locked_balance[_writer] += _margin
    option_id: uint256 = self.option_count
    self.option_count = option_id + 1
    self.options[option_id] = OptionPosition(
        writer=_writer, holder=_holder, is_call=_is_call, strike=_strike, size=_size,
        expiry=_expiry, margin=_margin, settled=False)
    log OptionOpened(option_id=option_id, writer=_writer, holder=_holder, margin=_margin)
    return option_id


@external
def post_settlement_price(_expiry: uint256, _price: uint256):
    assert msg.sender == self.oracle, "not oracle"
    assert block.timestamp >= _expiry, "not expired"
    assert _price > 0, "zero price"
    assert self.settlement_price[_expiry] == 0, "already posted"
    self.settlement_price[_expiry] = _price
    log SettlementPrice(expiry=_expiry, price=_price)


@view
@internal
def _payoff(pos: OptionPosition, price: uint256) -> uint256:
    unit: uint256 = 10 ** convert(self.underlying_decimals, uint256)
    intrinsic: uint256 = 0
    if pos.is_call and price > pos.strike:
        intrinsic = (price - pos.strike) * pos.size // unit
    elif (not pos.is_call) and pos.strike > price:
        intrinsic = (pos.strike - price) * pos.size // unit
    return min(intrinsic, pos.margin)


@view
@external
def payoff(_option_id: uint256) -> uint256:
    pos: OptionPosition = self.options[_option_id]
    price: uint256 = self.settlement_price[pos.expiry]
    assert price > 0, "no settlement price"
    return self._payoff(pos, price)


@external
def settle(_option_id: uint256) -> uint256:
    assert _option_id < self.option_count, "unknown option"
    pos: OptionPosition = self.options[_option_id]
    assert not pos.settled, "already settled"
    price: uint256 = self.settlement_price[pos.expiry]
    assert price > 0, "no settlement price"
    paid: uint256 = self._payoff(pos, price)
    self.options[_option_id].settled = True
    self.locked_balance[pos.writer] -= pos.margin
    self.free_balance[pos.writer] += pos.margin - paid
    self.free_balance[pos.holder] += paid
    log Settled(option_id=_option_id, payoff=paid, returned=pos.margin - paid)
    return paid
