// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721Enumerable, ERC721} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// Gas baseline for benchmarks/gas.py: the collector mint of the HashLips NFT contract that many
/// drops copy (ERC721Enumerable, `_safeMint` in a loop, require strings), with its Merkle whitelist
/// variant (leaf = keccak256(abi.encodePacked(msg.sender)), a claimed flag per wallet).
contract HashLipsStyle is ERC721Enumerable, Ownable {
    uint256 public cost;
    uint256 public maxSupply;
    uint256 public maxMintAmount;
    bool public paused;
    bool public whitelistMintEnabled;
    bytes32 public merkleRoot;
    mapping(address => bool) public whitelistClaimed;

    constructor(uint256 cost_, uint256 maxSupply_, uint256 maxMintAmount_) ERC721("HashLips", "HL") Ownable(msg.sender) {
        cost = cost_;
        maxSupply = maxSupply_;
        maxMintAmount = maxMintAmount_;
    }

    function mint(uint256 _mintAmount) public payable {
        uint256 supply = totalSupply();
        require(!paused, "the contract is paused");
        require(_mintAmount > 0, "need to mint at least 1 NFT");
        require(_mintAmount <= maxMintAmount, "max mint amount per session exceeded");
        require(supply + _mintAmount <= maxSupply, "max NFT limit exceeded");
        require(msg.value >= cost * _mintAmount, "insufficient funds");
        for (uint256 i = 1; i <= _mintAmount; i++) {
            _safeMint(msg.sender, supply + i);
        }
    }

    function whitelistMint(uint256 _mintAmount, bytes32[] calldata _merkleProof) public payable {
        uint256 supply = totalSupply();
        require(whitelistMintEnabled, "The whitelist sale is not enabled!");
        require(!whitelistClaimed[msg.sender], "Address already claimed!");
        bytes32 leaf = keccak256(abi.encodePacked(msg.sender));
        require(MerkleProof.verify(_merkleProof, merkleRoot, leaf), "Invalid proof!");
        require(_mintAmount > 0 && _mintAmount <= maxMintAmount, "Invalid mint amount!");
        require(supply + _mintAmount <= maxSupply, "Max supply exceeded!");
        require(msg.value >= cost * _mintAmount, "Insufficient funds!");
        whitelistClaimed[msg.sender] = true;
        for (uint256 i = 1; i <= _mintAmount; i++) {
            _safeMint(msg.sender, supply + i);
        }
    }

    function setMerkleRoot(bytes32 root) public onlyOwner {
        merkleRoot = root;
    }

    function setWhitelistMintEnabled(bool state) public onlyOwner {
        whitelistMintEnabled = state;
    }

    function pause(bool state) public onlyOwner {
        paused = state;
    }
}
