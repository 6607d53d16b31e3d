// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {ICollateralMonitor} from "./ICollateralMonitor.sol";

/// @title CollateralMonitor
/// @notice The oracle demo's consumer: a loan backed by `collateral` tokens priced by a
///         Chainlink-style feed (here a ZkmlOracle). `check()` reads `latestRoundData`, refuses
///         stale or incomplete rounds, values the collateral and records whether the loan is
///         still healthy (collateral value >= debt * liquidationRatio). Anyone may call it; a
///         keeper would liquidate when it turns unhealthy.
contract CollateralMonitor is ICollateralMonitor {
    AggregatorV3Interface public immutable feed;
    uint256 public immutable collateral;
    uint256 public immutable debt;
    uint256 public immutable liquidationRatioBps;
    uint256 public immutable maxAge;

    uint80 public lastRound;
    int256 public lastPrice;
    uint256 public lastValue;
    bool public healthy = true;
    uint256 public checks;

    constructor(AggregatorV3Interface feed_, uint256 collateral_, uint256 debt_, uint256 ratioBps_, uint256 maxAge_) {
        feed = feed_;
        collateral = collateral_;
        debt = debt_;
        liquidationRatioBps = ratioBps_;
        maxAge = maxAge_;
    }

    /// @inheritdoc ICollateralMonitor
    function check() external returns (bool) {
        (uint80 roundId, int256 price,, uint256 updatedAt, uint80 answeredInRound) = feed.latestRoundData();
        if (price <= 0) revert BadPrice(price);
        if (answeredInRound < roundId) revert IncompleteRound(roundId, answeredInRound);
        if (updatedAt + maxAge < block.timestamp) revert StalePrice(updatedAt, block.timestamp);
        uint256 value = uint256(price) * collateral / 1e18;
        bool ok = value * 10_000 >= debt * liquidationRatioBps;
        lastRound = roundId;
        lastPrice = price;
        lastValue = value;
        healthy = ok;
        checks += 1;
        emit Checked(roundId, price, value, ok);
        return ok;
    }
}
