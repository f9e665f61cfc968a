// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// Holds the first token id so ERC721A's constructor can read it.
/// Listed before ERC721A in the inheritance list, so its constructor runs first:
/// ERC721A sets `_currentIndex = _startTokenId()` in its own constructor.
abstract contract FirstTokenId {
    uint256 internal immutable _firstTokenId;

    constructor(uint256 firstTokenId_) {
        _firstTokenId = firstTokenId_;
    }
}

/// @title One roboz-collection NFT collection.
/// @notice ERC721A (cheap batch mints, or the whole supply minted in the constructor with
/// ERC-2309 ConsecutiveTransfer events) with ERC-2981 royalties, ERC-4906 metadata
/// update events, ERC-7572 contractURI and a provenance hash that can be set once.
/// One audited source serves every collection: name, symbol, supply, first id and
/// royalties come from the plan as constructor arguments, so the committed artifact
/// deploys any collection without a compiler.
contract RobozCollection is FirstTokenId, ERC721A, ERC2981, Ownable {
    /// Number of tokens the collection will ever have; fixed at deploy.
    uint256 public immutable maxSupply;

    string private _baseTokenURI;
    string private _contractURI;

    /// sha256 over the images in token order (provenance.json); zero until set, then frozen.
    bytes32 public provenanceHash;

    bool public publicMintOpen;
    uint256 public mintPrice;
    uint256 public maxPerWallet;

    // ERC-4906
    event MetadataUpdate(uint256 _tokenId);
    event BatchMetadataUpdate(uint256 _fromTokenId, uint256 _toTokenId);
    // ERC-7572
    event ContractURIUpdated();

    event ProvenanceSet(bytes32 provenanceHash);
    event PublicMintConfigured(bool open, uint256 price, uint256 maxPerWallet);

    error ExceedsMaxSupply(uint256 requested, uint256 remaining);
    error UnexpectedFirstId(uint256 expected, uint256 actual);
    error ProvenanceAlreadySet(bytes32 current);
    error ZeroProvenance();
    error PublicMintClosed();
    error WrongPayment(uint256 expected, uint256 sent);
    error WalletLimitExceeded(uint256 limit, uint256 alreadyMinted, uint256 requested);
    error WithdrawFailed();
    error BadMintChunk(uint256 chunk, uint256 limit);

    /// ERC721A's `_MAX_MINT_ERC2309_QUANTITY_LIMIT` (private there).
    uint256 public constant MINT_AT_DEPLOY_CHUNK_LIMIT = 5000;

    constructor(
        string memory name_,
        string memory symbol_,
        uint256 maxSupply_,
        uint256 firstTokenId_,
        string memory baseURI_,
        string memory contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        address owner_,
        address mintAllTo,
        uint256 mintChunk
    ) FirstTokenId(firstTokenId_) ERC721A(name_, symbol_) Ownable(owner_) {
        maxSupply = maxSupply_;
        _baseTokenURI = baseURI_;
        _contractURI = contractURI_;
        if (royaltyBps > 0) _setDefaultRoyalty(royaltyReceiver, royaltyBps);
        if (mintAllTo != address(0)) _mintAllAtDeploy(mintAllTo, maxSupply_, mintChunk);
    }

    // ---------------------------------------------------------------- minting

    /// Mint-at-deploy: the whole supply to `to`, one ERC-2309 ConsecutiveTransfer per chunk of
    /// at most `chunk` ids (ERC721A allows 5,000 per call), so the gas no longer grows per token.
    /// The first transfer of a token scans back to its chunk's first id: smaller chunks cost a
    /// little more here and bound that scan.
    function _mintAllAtDeploy(address to, uint256 quantity, uint256 chunk) private {
        if (chunk == 0 || chunk > MINT_AT_DEPLOY_CHUNK_LIMIT) revert BadMintChunk(chunk, MINT_AT_DEPLOY_CHUNK_LIMIT);
        while (quantity > 0) {
            uint256 n = quantity < chunk ? quantity : chunk;
            _mintERC2309(to, n);
            quantity -= n;
        }
    }

    /// Owner batch mint. `firstId` must equal the next id to be minted, so a mint
    /// transaction sent twice (a retry after a crash) reverts instead of minting
    /// a second batch.
    function mintBatch(address to, uint256 quantity, uint256 firstId) external onlyOwner {
        uint256 next = _nextTokenId();
        if (firstId != next) revert UnexpectedFirstId(firstId, next);
        _mintChecked(to, quantity);
    }

    /// Public mint: closed by default; the owner opens it with a price and a per-wallet limit.
    function publicMint(uint256 quantity) external payable {
        if (!publicMintOpen) revert PublicMintClosed();
        uint256 cost = mintPrice * quantity;
        if (msg.value != cost) revert WrongPayment(cost, msg.value);
        // aux counts public mints only, so owner airdrops don't use up a wallet's allowance.
        uint256 already = _getAux(msg.sender);
        if (already + quantity > maxPerWallet) revert WalletLimitExceeded(maxPerWallet, already, quantity);
        _setAux(msg.sender, uint64(already + quantity));
        _mintChecked(msg.sender, quantity);
    }

    function _mintChecked(address to, uint256 quantity) private {
        uint256 remaining = maxSupply - _totalMinted();
        if (quantity > remaining) revert ExceedsMaxSupply(quantity, remaining);
        _mint(to, quantity);
    }

    function setPublicMint(bool open, uint256 price, uint256 perWallet) external onlyOwner {
        publicMintOpen = open;
        mintPrice = price;
        maxPerWallet = perWallet;
        emit PublicMintConfigured(open, price, perWallet);
    }

    function publicMinted(address wallet) external view returns (uint256) {
        return _getAux(wallet);
    }

    function totalMinted() external view returns (uint256) {
        return _totalMinted();
    }

    function nextTokenId() external view returns (uint256) {
        return _nextTokenId();
    }

    function startTokenId() external view returns (uint256) {
        return _startTokenId();
    }

    // ---------------------------------------------------------------- metadata

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        if (!_exists(tokenId)) revert URIQueryForNonexistentToken();
        // Metadata files are named "{id}.json" inside the metadata folder.
        return string.concat(_baseTokenURI, _toString(tokenId), ".json");
    }

    function baseURI() external view returns (string memory) {
        return _baseTokenURI;
    }

    function setBaseURI(string calldata newBaseURI) external onlyOwner {
        _baseTokenURI = newBaseURI;
        // ERC-4906: marketplaces refresh every token's metadata.
        if (_totalMinted() > 0) emit BatchMetadataUpdate(_startTokenId(), _nextTokenId() - 1);
        else emit BatchMetadataUpdate(_startTokenId(), _startTokenId() + maxSupply - 1);
    }

    /// ERC-7572 contract-level metadata.
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    function setContractURI(string calldata newContractURI) external onlyOwner {
        _contractURI = newContractURI;
        emit ContractURIUpdated();
    }

    function setProvenanceHash(bytes32 hash) external onlyOwner {
        if (provenanceHash != bytes32(0)) revert ProvenanceAlreadySet(provenanceHash);
        if (hash == bytes32(0)) revert ZeroProvenance();
        provenanceHash = hash;
        emit ProvenanceSet(hash);
    }

    function setDefaultRoyalty(address receiver, uint96 bps) external onlyOwner {
        _setDefaultRoyalty(receiver, bps);
    }

    // ---------------------------------------------------------------- funds

    function withdraw(address payable to) external onlyOwner {
        (bool ok, ) = to.call{value: address(this).balance}("");
        if (!ok) revert WithdrawFailed();
    }

    // ---------------------------------------------------------------- plumbing

    function _startTokenId() internal view override returns (uint256) {
        return _firstTokenId;
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721A, ERC2981) returns (bool) {
        return
            interfaceId == 0x49064906 || // ERC-4906
            ERC721A.supportsInterface(interfaceId) || // ERC-165, ERC-721, ERC-721 Metadata
            ERC2981.supportsInterface(interfaceId); // ERC-2981
    }
}
