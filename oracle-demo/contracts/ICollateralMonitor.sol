// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title ICollateralMonitor
/// @notice CollateralMonitor's external face (the oracle demo's consumer), as the demo binds it
///         (`sol!` reads this file). CollateralMonitor inherits it, so solc holds the two to one
///         another: its event and errors are defined here, once. Plain Solidity, no imports.
interface ICollateralMonitor {
    event Checked(uint80 indexed roundId, int256 price, uint256 collateralValue, bool healthy);

    error StalePrice(uint256 updatedAt, uint256 now_);
    error IncompleteRound(uint80 roundId, uint80 answeredInRound);
    error BadPrice(int256 price);

    /// @notice Reads the latest round and re-evaluates the loan.
    function check() external returns (bool);
    /// @notice Collateral in whole-token units times 1e18.
    function collateral() external view returns (uint256);
    /// @notice Debt in USD with the feed's decimals.
    function debt() external view returns (uint256);
    /// @notice Minimum collateral value / debt, in basis points (e.g. 12000 = 120%).
    function liquidationRatioBps() external view returns (uint256);
    /// @notice How old, in seconds, a round `check` accepts may be.
    function maxAge() external view returns (uint256);
    /// @notice What the last successful `check` read and found.
    function lastRound() external view returns (uint80);
    function lastPrice() external view returns (int256);
    function lastValue() external view returns (uint256);
    function healthy() external view returns (bool);
    /// @notice How many checks succeeded.
    function checks() external view returns (uint256);
}
