// SPDX-License-Identifier: BSD-3-Clause
#include "testbackend_p.h"

#include <synq/identifier.h>

#include <QtCore/QJsonDocument>
#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <utility>

Q_LOGGING_CATEGORY(lcTesting, "synq.testing", QtInfoMsg)

namespace Synq {
namespace Testing {

using Protocol::Change;
using Protocol::PullRequest;
using Protocol::PullResponse;
using Protocol::PushMutation;
using Protocol::PushRequest;
using Protocol::PushResponse;
using Protocol::PushResult;

namespace {

// A transport-level error exactly as HttpTransport reports the same answer from synq-server.
SyncError httpError(int status, const QString &code, const QString &message)
{
    const QJsonObject body { { QStringLiteral("error"),
                               QJsonObject { { QStringLiteral("code"), code },
                                             { QStringLiteral("message"), message } } } };
    return Protocol::errorFromResponse(status, QJsonDocument(body).toJson(QJsonDocument::Compact));
}

SyncError validationError(const QString &message)
{
    return httpError(400, QStringLiteral("validation"), message);
}

bool isValidKey(const QString &key)
{
    return !PushRules::checkText(key, Protocol::MaxKeyLength);
}

// Cursors are the version the client has seen everything up to, in decimal.
bool parseCursor(const QString &text, qint64 *version)
{
    *version = 0;
    if (text.isEmpty())
        return true;
    if (text.size() > 18)
        return false;
    for (const QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    }
    *version = text.toLongLong();
    return true;
}

} // namespace

// --- the transport ---------------------------------------------------------------------------

TestTransport::TestTransport(TestBackendPrivate *backend, QObject *parent)
    : SyncTransport(parent), m_backend(backend)
{
}

void TestTransport::push(const Protocol::PushRequest &request, PushCallback done)
{
    m_backend->push(request, std::move(done));
}

void TestTransport::pull(const Protocol::PullRequest &request, PullCallback done)
{
    m_backend->pull(request, std::move(done));
}

// --- the backend -----------------------------------------------------------------------------

TestBackendPrivate::TestBackendPrivate(TestBackend *q) : q(q) { }

SyncError TestBackendPrivate::unreachable()
{
    SyncError error(SyncError::Network, QStringLiteral("The server cannot be reached."),
                    QStringLiteral("TestBackend is offline"));
    error.setRetryable(true);
    error.setHttpStatus(0);
    return error;
}

bool TestBackendPrivate::takeRequestFailure(TestBackend::RequestType type, SyncError *error)
{
    for (qsizetype i = 0; i < requestFailures.size(); ++i) {
        const TestBackend::RequestType wanted = requestFailures.at(i).type;
        if (wanted == TestBackend::AnyRequest || wanted == type) {
            *error = requestFailures.takeAt(i).error;
            return true;
        }
    }
    return false;
}

const TestBackendPrivate::Entry *TestBackendPrivate::find(const QString &collection,
                                                          const QString &key) const
{
    const auto c = collections.constFind(collection);
    if (c == collections.cend())
        return nullptr;
    const auto e = c->entries.constFind(key);
    return e == c->entries.cend() ? nullptr : &*e;
}

TestBackendPrivate::Entry TestBackendPrivate::stateOf(const QString &collection,
                                                      const QString &key) const
{
    const Entry *entry = find(collection, key);
    return entry ? *entry : Entry::missing();
}

// Writes the next version of key: the record data, or a tombstone when data is null.
qint64 TestBackendPrivate::write(const QString &collection, const QString &key,
                                 const QJsonObject *data, QList<Undo> *undo)
{
    Collection &c = collections[collection];
    const auto it = c.entries.constFind(key);
    if (undo)
        undo->append({ collection, key,
                       it == c.entries.cend() ? std::nullopt : std::optional<Entry>(*it) });
    if (it != c.entries.cend())
        c.byVersion.remove(it->version);
    const Entry entry = data ? Entry::live(++currentVersion, *data)
                             : Entry::removed(++currentVersion);
    c.entries.insert(key, entry);
    c.byVersion.insert(entry.version, key);
    return entry.version;
}

void TestBackendPrivate::restore(const Undo &undo)
{
    Collection &c = collections[undo.collection];
    const auto it = c.entries.constFind(undo.key);
    if (it != c.entries.cend()) {
        c.byVersion.remove(it->version);
        c.entries.remove(undo.key);
    }
    if (undo.previous) {
        c.entries.insert(undo.key, *undo.previous);
        c.byVersion.insert(undo.previous->version, undo.key);
    }
}

std::optional<QString> TestBackendPrivate::keyOf(const QString &collection,
                                                 const QVariantMap &record) const
{
    const QString field = keyFields.value(collection, QStringLiteral("id"));
    const QJsonValue value = QJsonValue::fromVariant(record.value(field));
    QString key;
    if (value.isString()) {
        key = value.toString();
    } else if (value.isDouble()) {
        const double number = value.toDouble();
        if (number != double(value.toInteger()))
            return std::nullopt;
        key = QString::number(value.toInteger());
    }
    if (!isValidKey(key))
        return std::nullopt;
    return key;
}

void TestBackendPrivate::push(const PushRequest &request, SyncTransport::PushCallback done)
{
    ++pushRequests;
    SyncError error;
    if (offline) {
        error = unreachable();
    } else if (!takeRequestFailure(TestBackend::PushRequests, &error)) {
        pushedMutations.append(request.mutations);
        // The checks synq-server makes before it applies anything, with its answer.
        if (const std::optional<PushRules::Problem> problem = PushRules::checkPush(request))
            error = httpError(problem->httpStatus,
                              problem->httpStatus == 413 ? QStringLiteral("too-large")
                                                         : QStringLiteral("validation"),
                              problem->message());
    }
    if (error.isError()) {
        qCDebug(lcTesting) << "push of" << request.mutations.size()
                           << "mutations answered with" << error.toString();
        deliverPush(PushResponse(), error, std::move(done), -1);
        return;
    }
    const PushResponse response = applyPush(request);
    qCDebug(lcTesting) << "push of" << request.mutations.size()
                       << "mutations applied; version now" << currentVersion;
    deliverPush(response, SyncError(), std::move(done), int(request.mutations.size()));
}

PushResponse TestBackendPrivate::applyPush(const PushRequest &request)
{
    const QList<PushMutation> &mutations = request.mutations;
    PushResponse response;
    response.results.resize(mutations.size());
    PushRules::Batch batch; // what earlier mutations mean for later ones, in this request only
    for (qsizetype begin = 0; begin < mutations.size();) {
        qsizetype end = begin + 1;
        while (end < mutations.size() && mutations.at(end).tx == mutations.at(begin).tx)
            ++end;
        applyTransaction(mutations, begin, end, &batch, &response.results);
        begin = end;
    }
    return response;
}

/*
    One client transaction, all or nothing, under the rules synq-server applies (PushRules):
    - a failure queued by failNextPersist() answers every mutation of it, nothing is written;
    - mutation ids applied before answer with their remembered result (not applied again);
    - the others are checked and written in order; at the first conflict every write of this
      transaction is taken back (versions included) and forgotten by the batch, that
      mutation reports the conflict as the record is after the roll-back and its
      not-yet-remembered siblings are "rejected" with Cancelled ("aborted" on the wire),
      retryable as the cause.
*/
void TestBackendPrivate::applyTransaction(const QList<PushMutation> &mutations, qsizetype begin,
                                          qsizetype end, PushRules::Batch *batch,
                                          QList<PushResult> *results)
{
    if (!persistFailures.isEmpty()) {
        const SyncError error = persistFailures.takeFirst();
        for (qsizetype i = begin; i < end; ++i) {
            PushResult &r = (*results)[i];
            r.id = mutations.at(i).id;
            r.status = error.isRetryable() ? PushResult::Retry : PushResult::Rejected;
            r.key = mutations.at(i).key;
            r.error = error;
        }
        return;
    }

    QList<qsizetype> pending;
    for (qsizetype i = begin; i < end; ++i) {
        const PushMutation &m = mutations.at(i);
        const auto seen = stored.constFind(m.id);
        if (seen == stored.cend()) {
            pending.append(i);
            continue;
        }
        (*results)[i] = *seen;
        batch->noteApplied(m.collection, m.key, seen->key, seen->version);
    }
    // Remembered facts hold whatever happens to the rest of the transaction.
    batch->keep();
    if (pending.isEmpty())
        return;

    QList<Undo> undo;
    const qint64 versionBefore = currentVersion;
    qsizetype failed = -1;
    for (const qsizetype i : std::as_const(pending)) {
        if (!applyOne(mutations.at(i), batch, &undo, &(*results)[i])) {
            failed = i;
            break;
        }
    }

    if (failed >= 0) {
        batch->undo();
        for (auto it = undo.crbegin(); it != undo.crend(); ++it)
            restore(*it);
        currentVersion = versionBefore;
        const PushMutation &causeMutation = mutations.at(failed);
        const PushResult cause = conflictResult(causeMutation, results->at(failed).key);
        for (const qsizetype i : std::as_const(pending)) {
            const PushMutation &m = mutations.at(i);
            PushResult &r = (*results)[i];
            if (i == failed) {
                r = cause;
                continue;
            }
            r = PushResult();
            r.id = m.id;
            r.status = PushResult::Rejected;
            r.key = batch->serverKey(m.collection, m.key);
            r.error = SyncError(SyncError::Cancelled,
                                PushRules::abortedMessage(causeMutation.id, m.tx,
                                                          QStringLiteral("conflict")),
                                QStringLiteral("server error code: aborted"));
            r.error.setRetryable(cause.error.isRetryable());
        }
        return;
    }

    for (const qsizetype i : std::as_const(pending))
        stored.insert(mutations.at(i).id, results->at(i));
    batch->keep();
}

// One mutation: false (result holds its id and key) when it conflicts.
bool TestBackendPrivate::applyOne(const PushMutation &m, PushRules::Batch *batch,
                                  QList<Undo> *undo, PushResult *result)
{
    result->id = m.id;
    result->key = batch->serverKey(m.collection, m.key);
    const Entry current = stateOf(m.collection, result->key);
    const std::optional<qint64> expected =
            batch->expectedVersion(m.collection, result->key, m.baseVersion);
    if (PushRules::verdict(m.op, current, expected) == PushRules::Verdict::Conflict)
        return false;

    const std::optional<QJsonObject> data = PushRules::written(m.op, current, m.data);
    result->status = PushResult::Applied;
    result->version = write(m.collection, result->key, data ? &*data : nullptr, undo);
    batch->noteApplied(m.collection, m.key, result->key, result->version);
    return true;
}

PushResult TestBackendPrivate::conflictResult(const PushMutation &m, const QString &key) const
{
    const PushRules::Conflict c =
            PushRules::conflict(m.op, key, stateOf(m.collection, key), m.baseVersion);
    PushResult r;
    r.id = m.id;
    r.status = PushResult::Conflict;
    r.key = key;
    r.version = c.version;
    r.record = c.record;
    r.deleted = c.deleted;
    r.error = SyncError(SyncError::Conflict, c.message,
                        QStringLiteral("server error code: conflict"));
    r.error.setRetryable(false);
    return r;
}

void TestBackendPrivate::pull(const PullRequest &request, SyncTransport::PullCallback done)
{
    ++pullRequests;
    SyncError error;
    qint64 since = 0;
    if (offline) {
        error = unreachable();
    } else if (takeRequestFailure(TestBackend::PullRequests, &error)) {
    } else if (!isValidIdentifier(request.collection)) {
        error = validationError(QStringLiteral("collection: not an identifier"));
    } else if (request.limit < 1 || request.limit > Protocol::MaxChangesPerPull) {
        error = validationError(QStringLiteral("limit: not an integer from 1 to %1")
                                        .arg(Protocol::MaxChangesPerPull));
    } else if (!parseCursor(request.cursor, &since)) {
        error = validationError(QStringLiteral("since: not a cursor this server handed out"));
    } else if (since > currentVersion) {
        error = httpError(410, QStringLiteral("resync-required"),
                          QStringLiteral("the cursor is ahead of this server: pull the "
                                         "collection again from the beginning"));
    }
    if (error.isError()) {
        qCDebug(lcTesting) << "pull of" << request.collection << "answered with"
                           << error.toString();
        deliverPull(PullResponse(), error, std::move(done), QString());
        return;
    }

    // From the beginning only live records are listed (a snapshot); after a cursor, every
    // change including deletions. Each key appears once, with its latest state.
    const bool beginning = request.cursor.isEmpty();
    PullResponse response;
    const auto c = collections.constFind(request.collection);
    if (c != collections.cend()) {
        for (auto it = c->byVersion.upperBound(since); it != c->byVersion.cend(); ++it) {
            const Entry &entry = c->entries[it.value()];
            if (beginning && !entry.isLive())
                continue;
            if (response.changes.size() == request.limit) {
                response.hasMore = true;
                break;
            }
            Change change;
            change.collection = request.collection;
            change.key = it.value();
            change.version = entry.version;
            change.deleted = !entry.isLive();
            if (entry.isLive())
                change.data = entry.data;
            response.changes.append(change);
        }
    }
    response.cursor = QString::number(response.hasMore ? response.changes.constLast().version
                                                       : currentVersion);
    qCDebug(lcTesting) << "pull of" << request.collection << "since" << since << "lists"
                       << response.changes.size() << "changes, cursor" << response.cursor;
    deliverPull(response, SyncError(), std::move(done), request.collection);
}

// Answers never run inside push()/pull(): they are queued on the transport, so they are
// dropped (never called) when the backend — and with it the transport — is destroyed first.
void TestBackendPrivate::deliverPush(PushResponse response, SyncError error,
                                     SyncTransport::PushCallback done, int processedMutations)
{
    if (!transport)
        return; // the backend is being destroyed
    QPointer<TestBackend> backend(q);
    QTimer::singleShot(networkDelay, transport,
                       [backend, response = std::move(response), error = std::move(error),
                        done = std::move(done), processedMutations] {
                           if (done)
                               done(response, error);
                           if (backend && processedMutations >= 0)
                               Q_EMIT backend->pushed(processedMutations);
                       });
}

void TestBackendPrivate::deliverPull(PullResponse response, SyncError error,
                                     SyncTransport::PullCallback done,
                                     const QString &processedCollection)
{
    if (!transport)
        return; // the backend is being destroyed
    QPointer<TestBackend> backend(q);
    QTimer::singleShot(networkDelay, transport,
                       [backend, response = std::move(response), error = std::move(error),
                        done = std::move(done), processedCollection] {
                           if (done)
                               done(response, error);
                           if (backend && !processedCollection.isEmpty())
                               Q_EMIT backend->pulled(processedCollection);
                       });
}

/*!
    \namespace Synq::Testing
    \inmodule Synq
    \brief Helpers for testing code that uses Synq, in the library \c{Synq::Testing}.
*/

/*!
    \class Synq::Testing::TestBackend
    \inmodule Synq
    \brief An in-process Synq backend for tests: the protocol's semantics in memory, with
    controls for server-side changes, conflicts, failures and the network.

    Link \c{Synq::Testing} and hand transport() to SyncEngine::setTransport(). The backend
    answers push and pull requests the way synq-server does (docs/protocol.md): one global,
    strictly increasing version sequence; mutations of one transaction applied all or nothing;
    idempotency by mutation id; conflicts by baseVersion; a change feed with tombstones and
    cursors. It never touches a database or the network, and everything lives on the thread
    that owns the backend.

    Answers are always delivered later from the event loop, never inside the request call:
    after networkDelay milliseconds, or on the next event loop pass when the delay is 0. The
    backend processes a request when it receives it and only delays the answer, as if the
    response were slow: a test can see the server's new state before the client does.
    When the backend is destroyed, answers still on their way are dropped.

    The backend owns its transport; do not delete it, and keep the backend alive as long as
    an engine uses it (or set the engine's transport to null first).

    What is simulated and what is not is listed in docs/testing.md.
*/

/*!
    \enum Synq::Testing::TestBackend::RequestType

    Which requests failNextRequest() fails.

    \value AnyRequest   the next request, push or pull
    \value PushRequests the next push request
    \value PullRequests the next pull request
*/

/*!
    \property Synq::Testing::TestBackend::networkDelay
    \brief Milliseconds every answer takes (default 0: the next event loop pass).

    The delay applies to answers of requests made after it was set, including error answers.
*/

/*!
    \property Synq::Testing::TestBackend::offline
    \brief Whether the backend is unreachable.

    While offline, every push and pull is answered with a retryable SyncError::Network error
    whose httpStatus is 0, like a refused connection, and the backend receives nothing
    (pushedMutations() does not grow; the request counters do). emitUpdate() and emitDelete()
    still change the server's data but send no changesAvailable() hint. Going back online
    emits SyncTransport::changesAvailable(), so an engine with autoSync runs soon.
*/

/*!
    Creates a backend with no data, online, without delay.
*/
TestBackend::TestBackend(QObject *parent) : QObject(parent), d(new TestBackendPrivate(this))
{
    d->transport = new TestTransport(d.get(), this);
    d->transport->setObjectName(QStringLiteral("Synq::Testing::TestBackend transport"));
}

/*!
    Destroys the backend and its transport. Answers not yet delivered are dropped: their
    callbacks are never called.
*/
TestBackend::~TestBackend()
{
    delete std::exchange(d->transport, nullptr);
}

/*!
    Returns the transport to hand to SyncEngine::setTransport(). It is owned by the backend
    and lives as long as the backend does. Its SyncTransport::changesAvailable() signal is
    emitted by emitUpdate(), emitDelete() and setOffline(false).
*/
SyncTransport *TestBackend::transport() const
{
    return d->transport;
}

/*!
    Makes \a field the key field of \a collection for emitUpdate() (default \c{"id"}).
*/
void TestBackend::setKeyField(const QString &collection, const QString &field)
{
    if (field.isEmpty()) {
        qCWarning(lcTesting, "setKeyField: an empty field name for %s is ignored",
                  qPrintable(collection));
        return;
    }
    d->keyFields.insert(collection, field);
}

/*!
    Returns the key field emitUpdate() reads in \a collection.
    \sa setKeyField()
*/
QString TestBackend::keyField(const QString &collection) const
{
    return d->keyFields.value(collection, QStringLiteral("id"));
}

/*!
    Writes \a record into \a collection as another client would: the record's key is its key
    field (keyField(), a non-empty string or an integer), the whole record replaces what the
    server held (an upsert, not a merge), and it gets the next version. Then emits
    SyncTransport::changesAvailable() on transport() unless the backend is offline.

    Returns the new version, or 0 (with a warning, nothing written) if \a collection is not a
    valid collection name or \a record has no usable key.
*/
qint64 TestBackend::emitUpdate(const QString &collection, const QVariantMap &record)
{
    if (!isValidIdentifier(collection)) {
        qCWarning(lcTesting, "emitUpdate: %s is not a collection name; ignored",
                  qPrintable(collection));
        return 0;
    }
    const std::optional<QString> key = d->keyOf(collection, record);
    if (!key) {
        qCWarning(lcTesting,
                  "emitUpdate: the record for %s has no key in field \"%s\" (a non-empty "
                  "string or an integer); ignored",
                  qPrintable(collection), qPrintable(keyField(collection)));
        return 0;
    }
    const QJsonObject data = QJsonObject::fromVariantMap(record);
    const qint64 version = d->write(collection, *key, &data);
    if (!d->offline)
        d->transport->emitChangesAvailable();
    return version;
}

/*!
    Removes the record \a key from \a collection as another client would: writes a tombstone
    with the next version (also for a key the server never had, like a remove in a push) and
    emits SyncTransport::changesAvailable() unless the backend is offline. Engines that have
    pulled the collection before see the deletion on their next pull.

    Returns the tombstone's version, or 0 (with a warning) for an invalid collection or key.
*/
qint64 TestBackend::emitDelete(const QString &collection, const QString &key)
{
    if (!isValidIdentifier(collection) || !isValidKey(key)) {
        qCWarning(lcTesting, "emitDelete: %s / %s is not a valid collection and key; ignored",
                  qPrintable(collection), qPrintable(key));
        return 0;
    }
    const qint64 version = d->write(collection, key, nullptr);
    if (!d->offline)
        d->transport->emitChangesAvailable();
    return version;
}

/*!
    Replaces (or creates) the server's record \a key in \a collection with \a serverRecord,
    stored as given, at the next version — silently: no changesAvailable() hint. The client
    does not know, so its next push of a change to that key, made on the version it had,
    ends in a conflict carrying \a serverRecord, and the collection's conflict policy decides.

    Returns the new version, or 0 (with a warning) for an invalid collection or key.
*/
qint64 TestBackend::injectConflict(const QString &collection, const QString &key,
                                   const QVariantMap &serverRecord)
{
    if (!isValidIdentifier(collection) || !isValidKey(key)) {
        qCWarning(lcTesting,
                  "injectConflict: %s / %s is not a valid collection and key; ignored",
                  qPrintable(collection), qPrintable(key));
        return 0;
    }
    const QJsonObject data = QJsonObject::fromVariantMap(serverRecord);
    return d->write(collection, key, &data);
}

int TestBackend::networkDelay() const
{
    return d->networkDelay;
}

/*!
    Delays every answer by \a ms milliseconds (negative values count as 0).
    \sa networkDelay
*/
void TestBackend::setNetworkDelay(int ms)
{
    ms = qMax(0, ms);
    if (d->networkDelay == ms)
        return;
    d->networkDelay = ms;
    Q_EMIT networkDelayChanged();
}

bool TestBackend::isOffline() const
{
    return d->offline;
}

/*!
    Makes the backend unreachable (\a offline true) or reachable again.
    \sa offline
*/
void TestBackend::setOffline(bool offline)
{
    if (d->offline == offline)
        return;
    d->offline = offline;
    Q_EMIT offlineChanged();
    if (!offline)
        d->transport->emitChangesAvailable();
}

/*!
    The next client transaction the backend receives in a push fails with \a error: every
    mutation of that transaction is answered with status \c retry if \a error is retryable,
    else \c rejected, carrying \a error, and none of it is written. The rest of the request
    is processed normally. Failures queue up: calling this twice fails the next two
    transactions. A request that does not reach the backend (offline, failNextRequest())
    does not use one up.
*/
void TestBackend::failNextPersist(const SyncError &error)
{
    if (!error.isError()) {
        qCWarning(lcTesting, "failNextPersist: SyncError::None is not a failure; ignored");
        return;
    }
    d->persistFailures.append(error);
}

/*!
    The next request of \a type (push, pull or either) fails as a whole with \a error, as a
    transport error: nothing of it is processed, the callback gets \a error and no response.
    Use it for HTTP-level failures, e.g. a 503 with Retry-After:
    \code
    SyncError busy(SyncError::Network, QStringLiteral("The server is busy."));
    busy.setHttpStatus(503).setRetryable(true).setRetryAfterMs(50);
    backend.failNextRequest(busy, TestBackend::PushRequests);
    \endcode
    Failures queue up in the order they were added.
*/
void TestBackend::failNextRequest(const SyncError &error, RequestType type)
{
    if (!error.isError()) {
        qCWarning(lcTesting, "failNextRequest: SyncError::None is not a failure; ignored");
        return;
    }
    d->requestFailures.append({ error, type });
}

/*!
    Returns every mutation the backend received in push requests, in the order received:
    repeated sends (idempotent replays) and requests refused as invalid included; requests
    answered while offline or failed by failNextRequest() not.
*/
QList<Protocol::PushMutation> TestBackend::pushedMutations() const
{
    return d->pushedMutations;
}

/*!
    Returns pushedMutations() as a list of maps, for QML and logs: \c id, \c tx,
    \c collection, \c op (\c{"insert"}, \c{"update"}, \c{"remove"}), \c key, \c baseVersion
    (null when unchecked) and \c data (the record of an insert, the changes of an update).
*/
QVariantList TestBackend::pushedMutationList() const
{
    QVariantList list;
    list.reserve(d->pushedMutations.size());
    for (const PushMutation &m : std::as_const(d->pushedMutations)) {
        list.append(QVariantMap {
                { QStringLiteral("id"), m.id },
                { QStringLiteral("tx"), m.tx },
                { QStringLiteral("collection"), m.collection },
                { QStringLiteral("op"), nameOf(m.op) },
                { QStringLiteral("key"), m.key },
                { QStringLiteral("baseVersion"),
                  m.baseVersion ? QVariant(*m.baseVersion) : QVariant() },
                { QStringLiteral("data"), m.data.toVariantMap() },
        });
    }
    return list;
}

/*!
    Returns the live records of \a collection (removed ones not), ordered by key.
*/
QList<QJsonObject> TestBackend::records(const QString &collection) const
{
    QList<QJsonObject> list;
    const auto c = d->collections.constFind(collection);
    if (c == d->collections.cend())
        return list;
    for (const TestBackendPrivate::Entry &entry : c->entries) {
        if (entry.isLive())
            list.append(entry.data);
    }
    return list;
}

/*!
    Returns the live record \a key of \a collection, or an empty object if the server does
    not have it or it was removed.
    \sa contains()
*/
QJsonObject TestBackend::record(const QString &collection, const QString &key) const
{
    const TestBackendPrivate::Entry *entry = d->find(collection, key);
    return entry && entry->isLive() ? entry->data : QJsonObject();
}

/*!
    Returns the server's version of \a key in \a collection: the live record's, the
    tombstone's if it was removed, 0 if it was never written.
*/
qint64 TestBackend::version(const QString &collection, const QString &key) const
{
    const TestBackendPrivate::Entry *entry = d->find(collection, key);
    return entry ? entry->version : 0;
}

/*!
    Returns whether \a collection has a live record \a key.
*/
bool TestBackend::contains(const QString &collection, const QString &key) const
{
    const TestBackendPrivate::Entry *entry = d->find(collection, key);
    return entry && entry->isLive();
}

/*!
    Returns the last version handed out (0 before the first write).
*/
qint64 TestBackend::currentVersion() const
{
    return d->currentVersion;
}

/*!
    Returns how many push requests the transport got, failed ones included.
*/
int TestBackend::pushRequestCount() const
{
    return d->pushRequests;
}

/*!
    Returns how many pull requests the transport got, failed ones included.
*/
int TestBackend::pullRequestCount() const
{
    return d->pullRequests;
}

/*!
    Forgets all data and traffic: records, tombstones, remembered results, the version
    counter (back to 0), pushedMutations(), the request counters and queued failures.
    Settings stay: networkDelay, offline and key fields. Answers already on their way are
    still delivered. An engine that synced before now holds a cursor ahead of the server and
    gets 410 resync-required, as from a server restored from an empty backup.
*/
void TestBackend::reset()
{
    d->collections.clear();
    d->stored.clear();
    d->currentVersion = 0;
    d->pushedMutations.clear();
    d->pushRequests = 0;
    d->pullRequests = 0;
    d->persistFailures.clear();
    d->requestFailures.clear();
}

/*!
    \fn void Synq::Testing::TestBackend::pushed(int mutationCount)

    Emitted right after the answer to a push request the backend processed was delivered
    (the engine's callback has returned); \a mutationCount is the request's size. Not
    emitted for requests that failed as a whole (offline, failNextRequest(), invalid).
*/

/*!
    \fn void Synq::Testing::TestBackend::pulled(const QString &collection)

    Emitted right after a page of changes of \a collection was delivered. Not emitted for
    pull requests that failed as a whole.
*/

} // namespace Testing
} // namespace Synq
