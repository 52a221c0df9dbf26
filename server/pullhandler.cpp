// SPDX-License-Identifier: BSD-3-Clause
#include "pullhandler.h"

#include "protocolrules.h"
#include "serverstore.h"

#include <QtCore/QJsonArray>

namespace Synq {
namespace Server {

namespace {

// Decimal digits only, no sign, at most 18 of them (fits qint64 with room to spare).
bool parseVersion(QStringView text, qint64 *out)
{
    if (text.isEmpty() || text.size() > 18)
        return false;
    for (const QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    }
    *out = text.toLongLong();
    return true;
}

HttpResponse resyncRequired(const QString &why)
{
    return HttpResponse::error(
            410, QStringLiteral("resync-required"),
            QStringLiteral("%1: pull the collection again from the beginning").arg(why), false);
}

} // namespace

bool parseCursor(const QString &text, Cursor *cursor)
{
    Cursor result;
    if (text.isEmpty()) {
        *cursor = result;
        return true;
    }
    if (!text.startsWith(QLatin1String("v1:")))
        return false;
    const QStringView rest = QStringView(text).mid(3);
    const qsizetype colon = rest.indexOf(QLatin1Char(':'));
    result.beginning = false;
    if (colon < 0)
        return parseVersion(rest, &result.version) && ((*cursor = result), true);
    result.snapshot = true;
    if (!parseVersion(rest.left(colon), &result.version)
        || !parseVersion(rest.mid(colon + 1), &result.listedUpTo)
        || result.listedUpTo >= result.version)
        return false;
    *cursor = result;
    return true;
}

QString formatCursor(const Cursor &cursor)
{
    if (cursor.snapshot)
        return QStringLiteral("v1:%1:%2").arg(cursor.version).arg(cursor.listedUpTo);
    return QStringLiteral("v1:%1").arg(cursor.version);
}

HttpResponse pullChanges(ServerStore *store, const QString &owner, const QUrlQuery &query)
{
    if (!query.hasQueryItem(QStringLiteral("collection")))
        return HttpResponse::validation(QStringLiteral("collection: missing"));
    const QString collection =
            query.queryItemValue(QStringLiteral("collection"), QUrl::FullyDecoded);
    if (!isIdentifier(collection))
        return HttpResponse::validation(QStringLiteral("collection: not an identifier"));

    int limit = DefaultChangesPerPull;
    if (query.hasQueryItem(QStringLiteral("limit"))) {
        const QString text = query.queryItemValue(QStringLiteral("limit"), QUrl::FullyDecoded);
        qint64 value = 0;
        if (!parseVersion(text, &value) || value < 1 || value > MaxChangesPerPull)
            return HttpResponse::validation(
                    QStringLiteral("limit: not an integer from 1 to %1").arg(MaxChangesPerPull));
        limit = int(value);
    }

    Cursor since;
    const QString sinceText = query.queryItemValue(QStringLiteral("since"), QUrl::FullyDecoded);
    if (!parseCursor(sinceText, &since))
        return HttpResponse::validation(
                QStringLiteral("since: not a cursor this server handed out"));

    // The counter first: every change up to it is committed and visible to the reads below.
    qint64 current = 0;
    if (!store->currentVersion(&current))
        return HttpResponse::unavailable();
    if (since.version > current)
        return resyncRequired(QStringLiteral("the cursor is ahead of this server"));

    Cursor next;
    QList<StoredChange> changes;
    bool hasMore = false;
    if (since.beginning || since.snapshot) {
        const qint64 snapshot = since.beginning ? current : since.version;
        const qint64 after = since.beginning ? 0 : since.listedUpTo;
        if (!store->readChanges(owner, collection, after, snapshot, limit + 1, true, &changes))
            return HttpResponse::unavailable();
        if (changes.size() > limit) {
            changes.resize(limit);
            next.snapshot = true;
            next.version = snapshot;
            next.listedUpTo = changes.constLast().version;
            hasMore = true;
        } else {
            next.version = snapshot;
            if (snapshot < current
                && !store->hasChanges(owner, collection, snapshot, current, &hasMore))
                return HttpResponse::unavailable();
        }
    } else {
        if (!store->readChanges(owner, collection, since.version, current, limit + 1, false,
                                &changes))
            return HttpResponse::unavailable();
        hasMore = changes.size() > limit;
        if (hasMore) {
            changes.resize(limit);
            next.version = changes.constLast().version;
        } else {
            next.version = current;
        }
    }
    next.beginning = false;

    // Read last: a prune that raced the reads above shows here, never as a silent gap.
    if (!since.beginning) {
        qint64 pruned = 0;
        if (!store->prunedVersion(&pruned))
            return HttpResponse::unavailable();
        if (since.version < pruned)
            return resyncRequired(QStringLiteral("deletions after this cursor were forgotten "
                                                 "(tombstone horizon)"));
    }

    QJsonArray array;
    for (const StoredChange &change : std::as_const(changes)) {
        QJsonObject entry {
            { QStringLiteral("collection"), collection },
            { QStringLiteral("key"), change.key },
            { QStringLiteral("version"), change.version },
            { QStringLiteral("op"),
              change.deleted ? QStringLiteral("delete") : QStringLiteral("upsert") },
            { QStringLiteral("data"),
              change.deleted ? QJsonValue(QJsonValue::Null) : QJsonValue(change.data) },
        };
        if (!change.hlc.isEmpty()) // the stamp of the write that made this version
            entry.insert(QStringLiteral("hlc"), change.hlc);
        array.append(entry);
    }
    return HttpResponse::json(200,
                              QJsonObject { { QStringLiteral("changes"), array },
                                            { QStringLiteral("cursor"), formatCursor(next) },
                                            { QStringLiteral("hasMore"), hasMore } });
}

} // namespace Server
} // namespace Synq
