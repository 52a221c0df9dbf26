// SPDX-License-Identifier: BSD-3-Clause
#include "testbackend_p.h"

#include "testtransport_p.h"

#include <synq/identifier.h>
#include <synq/logging_p.h>
#include <synq/pushrules.h>

#include <utility>

namespace Synq {
namespace Testing {

using Protocol::PushMutation;

namespace {

bool isValidKey(const QString &key)
{
    return !PushRules::checkText(key, Protocol::MaxKeyLength);
}

} // namespace

TestBackendPrivate::TestBackendPrivate(TestBackend *q) : q(q) { }

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
    answers push, pull and fetch requests the way synq-server does (docs/protocol.md): one global,
    strictly increasing version sequence; mutations of one transaction applied all or nothing;
    idempotency by mutation id; conflicts by baseVersion; a change feed with tombstones and
    cursors; a fetch of one key answering found, gone (a tombstone) or missing (never written);
    each record and tombstone keeps the hybrid logical clock stamp (\c hlc) of the
    write that made it, handed back in push results, changes and fetches. Pushes are decided by the
    same rules as synq-server's, Synq::PushRules, and a push synq-server refuses is refused
    here with the same status and message. It never
    touches a database or the network, and everything lives on the thread that owns the
    backend.

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

    \value AnyRequest    the next request, push, pull or fetch
    \value PushRequests  the next push request
    \value PullRequests  the next pull request
    \value FetchRequests the next fetch request (SyncTransport::fetch())
*/

/*!
    \property Synq::Testing::TestBackend::networkDelay
    \brief Milliseconds every answer takes (default 0: the next event loop pass).

    The delay applies to answers of requests made after it was set, including error answers.
*/

/*!
    \property Synq::Testing::TestBackend::offline
    \brief Whether the backend is unreachable.

    While offline, every push, pull and fetch is answered with a retryable SyncError::Network error
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
    if (d->pushHandler.assignsKeys(collection))
        d->pushHandler.setAssignedKeys(collection, field);
}

/*!
    Makes the backend choose the key of every record inserted into \a collection, as
    \c{synq-server --server-assigned-keys} does: an insert is applied under a new key ("s" and
    its version, also written into the record's key field, keyField()) whatever key the client
    sent, and the push result carries that key. Mutations later in the same push that name the
    client's key go to the new one. With \a assigned false, inserts keep the client's key
    again (the default).
*/
void TestBackend::setServerAssignedKeys(const QString &collection, bool assigned)
{
    d->pushHandler.setAssignedKeys(collection, assigned ? keyField(collection) : QString());
}

/*!
    Returns whether the backend chooses the keys of \a collection's inserts.
    \sa setServerAssignedKeys()
*/
bool TestBackend::hasServerAssignedKeys(const QString &collection) const
{
    return d->pushHandler.assignsKeys(collection);
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
    const qint64 version = d->store.write(collection, *key, &data, QString());
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
    const qint64 version = d->store.write(collection, key, nullptr, QString());
    if (!d->offline)
        d->transport->emitChangesAvailable();
    return version;
}

/*!
    Replaces (or creates) the server's record \a key in \a collection with \a serverRecord,
    stored as given, at the next version — silently: no changesAvailable() hint. The client
    does not know, so its next push of a change to that key, made on the version it had,
    ends in a conflict carrying \a serverRecord, and the collection's conflict policy decides.
    The record has no hybrid logical clock stamp: the conflict and the change feed carry no
    \c hlc for it.

    Returns the new version, or 0 (with a warning) for an invalid collection or key.
*/
qint64 TestBackend::injectConflict(const QString &collection, const QString &key,
                                   const QVariantMap &serverRecord)
{
    return injectConflict(collection, key, serverRecord, QString());
}

/*!
    \overload

    As injectConflict() without a stamp, but the server's record is stored as written at the
    hybrid logical clock stamp \a hlc (text as HybridClock::format() writes it, e.g.
    \c{"001764766000000:000003:other-device"}): the conflict the client's next push of a
    change to \a key ends in carries \a hlc as its \c hlc, and so does the record's entry in
    the change feed. Use it to test a LastWriteWins policy: a stamp later than the client's
    makes the server's write the last one, an earlier one the client's. An empty \a hlc
    stores no stamp.

    Returns the new version, or 0 (with a warning, nothing written) for an invalid
    collection, key or stamp.
*/
qint64 TestBackend::injectConflict(const QString &collection, const QString &key,
                                   const QVariantMap &serverRecord, const QString &hlc)
{
    if (!isValidIdentifier(collection) || !isValidKey(key)) {
        qCWarning(lcTesting,
                  "injectConflict: %s / %s is not a valid collection and key; ignored",
                  qPrintable(collection), qPrintable(key));
        return 0;
    }
    if (!hlc.isEmpty()) {
        if (const std::optional<QString> problem = Protocol::checkHlc(hlc)) {
            qCWarning(lcTesting, "injectConflict: the stamp \"%s\": %s; ignored", qPrintable(hlc),
                      qPrintable(*problem));
            return 0;
        }
    }
    const QJsonObject data = QJsonObject::fromVariantMap(serverRecord);
    return d->store.write(collection, key, &data, hlc);
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
    The next request of \a type (push, pull, fetch or any) fails as a whole with \a error, as a
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
    (null when unchecked), \c data (the record of an insert, the changes of an update),
    \c hlc (the mutation's hybrid logical clock stamp, an empty string when it had none) and
    \c metadata (what the caller attached to the mutation, as a QVariant of its JSON value;
    an invalid QVariant when it had none — a null metadata counts as none, as it does on the
    wire).
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
                { QStringLiteral("hlc"), m.hlc },
                { QStringLiteral("metadata"),
                  m.metadata.isUndefined() ? QVariant() : m.metadata.toVariant() },
        });
    }
    return list;
}

/*!
    Returns the live records of \a collection (removed ones not), ordered by key.
*/
QList<QJsonObject> TestBackend::records(const QString &collection) const
{
    return d->store.records(collection);
}

/*!
    Returns the live record \a key of \a collection, or an empty object if the server does
    not have it or it was removed.
    \sa contains()
*/
QJsonObject TestBackend::record(const QString &collection, const QString &key) const
{
    const TestStore::Entry *entry = d->store.find(collection, key);
    return entry && entry->isLive() ? entry->data : QJsonObject();
}

/*!
    Returns the server's version of \a key in \a collection: the live record's, the
    tombstone's if it was removed, 0 if it was never written.
*/
qint64 TestBackend::version(const QString &collection, const QString &key) const
{
    const TestStore::Entry *entry = d->store.find(collection, key);
    return entry ? entry->version : 0;
}

/*!
    Returns whether \a collection has a live record \a key.
*/
bool TestBackend::contains(const QString &collection, const QString &key) const
{
    const TestStore::Entry *entry = d->store.find(collection, key);
    return entry && entry->isLive();
}

/*!
    Returns the last version handed out (0 before the first write).
*/
qint64 TestBackend::currentVersion() const
{
    return d->store.currentVersion();
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
    Returns how many fetch requests (SyncTransport::fetch()) the transport got, failed ones
    included.
*/
int TestBackend::fetchRequestCount() const
{
    return d->fetchRequests;
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
    d->store.clear();
    d->pushHandler.forgetResults();
    d->pushedMutations.clear();
    d->pushRequests = 0;
    d->pullRequests = 0;
    d->fetchRequests = 0;
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
