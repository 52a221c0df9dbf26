// SPDX-License-Identifier: BSD-3-Clause
#include <synq/protocol.h>

#include <synq/hybridclock.h>
#include <synq/identifier.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QCryptographicHash>
#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QLocale>

namespace Synq {
namespace Protocol {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("Synq::Protocol", text);
}

SyncError protocolError(const QString &detail)
{
    return SyncError(SyncError::Protocol,
                     tr("The server sent a response Synq cannot understand."), detail)
            .setRetryable(true);
}

bool isInteger(const QJsonValue &v)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return d == double(v.toInteger()) && d >= 0 && d < 9007199254740992.0; // 2^53
}

bool parseError(const QJsonValue &value, SyncError::Code fallback, SyncError *out)
{
    if (!value.isObject())
        return false;
    const QJsonObject o = value.toObject();
    const QJsonValue code = o.value(QLatin1String("code"));
    const QJsonValue message = o.value(QLatin1String("message"));
    const QJsonValue retryable = o.value(QLatin1String("retryable"));
    if (!code.isString() || !(message.isString() || message.isUndefined())
        || !(retryable.isBool() || retryable.isUndefined()))
        return false;
    static const QHash<QString, SyncError::Code> codes {
        { QStringLiteral("validation"), SyncError::Validation },
        { QStringLiteral("unauthorized"), SyncError::Unauthorized },
        { QStringLiteral("forbidden"), SyncError::Forbidden },
        { QStringLiteral("conflict"), SyncError::Conflict },
        { QStringLiteral("rate-limited"), SyncError::RateLimited },
        { QStringLiteral("too-large"), SyncError::Validation },
        { QStringLiteral("aborted"), SyncError::Cancelled },
        { QStringLiteral("resync-required"), SyncError::Protocol },
    };
    SyncError e(codes.value(code.toString(), fallback),
                message.toString(tr("The server refused the change.")),
                QStringLiteral("server error code: %1").arg(code.toString()));
    e.setRetryable(retryable.isBool() ? retryable.toBool() : SyncError::isRetryableByDefault(e.code()));
    *out = e;
    return true;
}

// The optional "hlc" of a result or change: absent or null is none; else a stamp (checkHlc).
bool readHlc(const QJsonObject &o, QString *out)
{
    const QJsonValue value = o.value(QLatin1String("hlc"));
    if (value.isUndefined() || value.isNull()) {
        out->clear();
        return true;
    }
    if (!value.isString() || checkHlc(value.toString()))
        return false;
    *out = value.toString();
    return true;
}

} // namespace

/*
    The stamps are the clients' (docs/protocol.md, hlc): a backend checks their form and keeps
    them, it never compares them. The limits keep what is stored plain text: PostgreSQL's TEXT
    takes no NUL, and a node is an id like any other.
*/
std::optional<QString> checkHlc(const QString &hlc)
{
    if (hlc.size() > MaxHlcLength)
        return QStringLiteral("must be at most %1 characters").arg(MaxHlcLength);
    if (!hlc.isValidUtf16() || hlc.contains(QChar(0)))
        return QStringLiteral("contains NUL or invalid UTF-16");
    if (!HybridClock::parse(hlc))
        return QStringLiteral("not a hybrid logical clock stamp (WWWWWWWWWWWWWWW:CCCCCC:node, "
                              "as HybridClock::format() writes it)");
    return std::nullopt;
}

QString batchId(const QList<PushMutation> &mutations)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        if (i)
            hash.addData(QByteArrayView("\n"));
        hash.addData(mutations.at(i).id.toUtf8());
    }
    return QString::fromLatin1(hash.result().toHex());
}

QByteArray encodePushRequest(const PushRequest &request)
{
    QJsonArray mutations;
    for (const PushMutation &m : request.mutations) {
        QJsonObject o {
            { QStringLiteral("id"), m.id },
            { QStringLiteral("tx"), m.tx },
            { QStringLiteral("collection"), m.collection },
            { QStringLiteral("op"), nameOf(m.op) },
            { QStringLiteral("key"), m.key },
            { QStringLiteral("baseVersion"),
              m.baseVersion ? QJsonValue(*m.baseVersion) : QJsonValue(QJsonValue::Null) },
        };
        if (m.op == MutationType::Insert)
            o.insert(QStringLiteral("data"), m.data);
        else if (m.op == MutationType::Update)
            o.insert(QStringLiteral("changes"), m.data);
        if (!m.hlc.isEmpty())
            o.insert(QStringLiteral("hlc"), m.hlc);
        if (!m.metadata.isUndefined() && !m.metadata.isNull())
            o.insert(QStringLiteral("metadata"), m.metadata);
        mutations.append(o);
    }
    QJsonObject body {
        { QStringLiteral("batch"), request.batch },
        { QStringLiteral("mutations"), mutations },
    };
    if (!request.client.isEmpty())
        body.insert(QStringLiteral("client"), request.client);
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

bool decodePushResponse(const QByteArray &body, const PushRequest &request, PushResponse *out,
                        SyncError *error)
{
    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parse);
    if (parse.error != QJsonParseError::NoError || !doc.isObject()) {
        *error = protocolError(QStringLiteral("push response is not a JSON object: %1")
                                       .arg(parse.errorString()));
        return false;
    }
    const QJsonValue results = doc.object().value(QLatin1String("results"));
    if (!results.isArray()) {
        *error = protocolError(QStringLiteral("push response has no results array"));
        return false;
    }
    const QJsonArray array = results.toArray();
    if (array.size() != request.mutations.size()) {
        *error = protocolError(QStringLiteral("push response has %1 results for %2 mutations")
                                       .arg(array.size())
                                       .arg(request.mutations.size()));
        return false;
    }
    PushResponse response;
    response.results.reserve(array.size());
    for (qsizetype i = 0; i < array.size(); ++i) {
        auto bad = [&](const char *what) {
            *error = protocolError(QStringLiteral("results[%1]: %2").arg(i).arg(QLatin1String(what)));
            return false;
        };
        if (!array.at(i).isObject())
            return bad("not an object");
        const QJsonObject o = array.at(i).toObject();
        PushResult r;
        const QJsonValue id = o.value(QLatin1String("id"));
        if (!id.isString() || id.toString() != request.mutations.at(i).id)
            return bad("id does not match the mutation sent at this position");
        r.id = id.toString();
        const QString status = o.value(QLatin1String("status")).toString();
        if (status == QLatin1String("applied"))
            r.status = PushResult::Applied;
        else if (status == QLatin1String("conflict"))
            r.status = PushResult::Conflict;
        else if (status == QLatin1String("rejected"))
            r.status = PushResult::Rejected;
        else if (status == QLatin1String("retry"))
            r.status = PushResult::Retry;
        else
            return bad("unknown status");

        const QJsonValue key = o.value(QLatin1String("key"));
        if (key.isString()) {
            if (key.toString().isEmpty() || key.toString().size() > MaxKeyLength)
                return bad("key is empty or too long");
            r.key = key.toString();
        } else if (!key.isUndefined() || r.status == PushResult::Applied) {
            return bad("key missing or not a string");
        } else {
            r.key = request.mutations.at(i).key;
        }
        const QJsonValue version = o.value(QLatin1String("version"));
        if (isInteger(version))
            r.version = version.toInteger();
        else if (!version.isUndefined() || r.status == PushResult::Applied)
            return bad("version missing or not a non-negative integer");
        if (r.status == PushResult::Applied && r.version <= 0)
            return bad("an applied result needs a positive version");

        const QJsonValue record = o.value(QLatin1String("record"));
        const QJsonValue deleted = o.value(QLatin1String("deleted"));
        if (!(deleted.isBool() || deleted.isUndefined()))
            return bad("deleted is not a boolean");
        r.deleted = deleted.toBool(false);
        if (record.isObject())
            r.record = record.toObject();
        else if (!(record.isNull() || record.isUndefined()))
            return bad("record is not an object");
        if (r.status == PushResult::Conflict && !r.record && !r.deleted)
            return bad("a conflict needs the current record or deleted: true");
        if (!readHlc(o, &r.hlc))
            return bad("hlc is not a hybrid logical clock stamp");

        const QJsonValue err = o.value(QLatin1String("error"));
        if (r.status == PushResult::Rejected || r.status == PushResult::Retry
            || r.status == PushResult::Conflict) {
            const SyncError::Code fallback = r.status == PushResult::Conflict
                    ? SyncError::Conflict
                    : (r.status == PushResult::Retry ? SyncError::Network : SyncError::Validation);
            if (err.isUndefined()) {
                r.error = SyncError(fallback, tr("The server refused the change."));
            } else if (!parseError(err, fallback, &r.error)) {
                return bad("malformed error");
            }
            if (r.status == PushResult::Retry)
                r.error.setRetryable(true);
            else if (r.status == PushResult::Rejected && r.error.isRetryable()
                     && r.error.code() != SyncError::Cancelled)
                r.error.setRetryable(false);
        } else if (!err.isUndefined() && !err.isNull()) {
            return bad("an applied result carries an error");
        }
        response.results.append(std::move(r));
    }
    *out = std::move(response);
    return true;
}

bool decodePullResponse(const QByteArray &body, const PullRequest &request, PullResponse *out,
                        SyncError *error)
{
    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parse);
    if (parse.error != QJsonParseError::NoError || !doc.isObject()) {
        *error = protocolError(QStringLiteral("changes response is not a JSON object: %1")
                                       .arg(parse.errorString()));
        return false;
    }
    const QJsonObject root = doc.object();
    const QJsonValue changes = root.value(QLatin1String("changes"));
    const QJsonValue cursor = root.value(QLatin1String("cursor"));
    const QJsonValue hasMore = root.value(QLatin1String("hasMore"));
    if (!changes.isArray() || !cursor.isString() || cursor.toString().isEmpty()
        || cursor.toString().size() > 1024 || !hasMore.isBool()) {
        *error = protocolError(QStringLiteral("changes response lacks changes, cursor or hasMore"));
        return false;
    }
    const QJsonArray array = changes.toArray();
    if (array.size() > MaxChangesPerPull || array.size() > qMax(request.limit, 1)) {
        *error = protocolError(QStringLiteral("%1 changes for a limit of %2")
                                       .arg(array.size())
                                       .arg(request.limit));
        return false;
    }
    PullResponse response;
    response.cursor = cursor.toString();
    response.hasMore = hasMore.toBool();
    response.changes.reserve(array.size());
    qint64 lastVersion = 0;
    for (qsizetype i = 0; i < array.size(); ++i) {
        auto bad = [&](const char *what) {
            *error = protocolError(QStringLiteral("changes[%1]: %2").arg(i).arg(QLatin1String(what)));
            return false;
        };
        if (!array.at(i).isObject())
            return bad("not an object");
        const QJsonObject o = array.at(i).toObject();
        Change c;
        c.collection = o.value(QLatin1String("collection")).toString();
        if (c.collection != request.collection)
            return bad("collection is not the one asked for");
        const QJsonValue key = o.value(QLatin1String("key"));
        if (!key.isString() || key.toString().isEmpty() || key.toString().size() > MaxKeyLength)
            return bad("key missing, empty or too long");
        c.key = key.toString();
        const QJsonValue version = o.value(QLatin1String("version"));
        if (!isInteger(version) || version.toInteger() <= 0)
            return bad("version missing or not a positive integer");
        c.version = version.toInteger();
        if (c.version <= lastVersion)
            return bad("versions are not increasing");
        lastVersion = c.version;
        const QString op = o.value(QLatin1String("op")).toString();
        const QJsonValue data = o.value(QLatin1String("data"));
        if (op == QLatin1String("upsert")) {
            if (!data.isObject())
                return bad("an upsert needs a data object");
            c.data = data.toObject();
        } else if (op == QLatin1String("delete")) {
            if (!(data.isNull() || data.isUndefined()))
                return bad("data of a delete must be null");
            c.deleted = true;
        } else {
            return bad("unknown op");
        }
        if (!readHlc(o, &c.hlc))
            return bad("hlc is not a hybrid logical clock stamp");
        response.changes.append(std::move(c));
    }
    *out = std::move(response);
    return true;
}

QByteArray encodeFetchResponse(const FetchResponse &response)
{
    QJsonObject body { { QStringLiteral("key"), response.key } };
    switch (response.status) {
    case FetchResponse::Found:
        body.insert(QStringLiteral("status"), QStringLiteral("found"));
        body.insert(QStringLiteral("version"), response.version);
        body.insert(QStringLiteral("data"), response.data);
        break;
    case FetchResponse::Gone:
        body.insert(QStringLiteral("status"), QStringLiteral("gone"));
        body.insert(QStringLiteral("version"), response.version);
        break;
    case FetchResponse::Missing:
        body.insert(QStringLiteral("status"), QStringLiteral("missing"));
        break;
    }
    // A missing key was never written (or its tombstone is forgotten): no write, no stamp.
    if (response.status != FetchResponse::Missing && !response.hlc.isEmpty())
        body.insert(QStringLiteral("hlc"), response.hlc);
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

/*
    As strict as the other decoders: a found record needs a positive version and a data
    object; a tombstone a positive version and no data; a missing key neither a version
    (other than 0), data nor a stamp — each of those would claim a write the status denies.
*/
bool decodeFetchResponse(const QByteArray &body, const FetchRequest &request, FetchResponse *out,
                         SyncError *error)
{
    auto bad = [error](const QString &what) {
        *error = protocolError(QStringLiteral("fetch response: %1").arg(what));
        return false;
    };
    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parse);
    if (parse.error != QJsonParseError::NoError || !doc.isObject())
        return bad(QStringLiteral("not a JSON object: %1").arg(parse.errorString()));
    const QJsonObject o = doc.object();

    FetchResponse response;
    const QJsonValue status = o.value(QLatin1String("status"));
    if (status == QJsonValue(QStringLiteral("found")))
        response.status = FetchResponse::Found;
    else if (status == QJsonValue(QStringLiteral("gone")))
        response.status = FetchResponse::Gone;
    else if (status == QJsonValue(QStringLiteral("missing")))
        response.status = FetchResponse::Missing;
    else
        return bad(QStringLiteral("unknown status"));

    const QJsonValue key = o.value(QLatin1String("key"));
    if (!key.isString() || key.toString() != request.key)
        return bad(QStringLiteral("key is not the one asked for"));
    response.key = key.toString();

    const QJsonValue version = o.value(QLatin1String("version"));
    const QJsonValue data = o.value(QLatin1String("data"));
    const bool noData = data.isUndefined() || data.isNull();
    if (response.status == FetchResponse::Missing) {
        if (!(version.isUndefined() || (isInteger(version) && version.toInteger() == 0)))
            return bad(QStringLiteral("a missing key has no version"));
        if (!noData)
            return bad(QStringLiteral("a missing key has no data"));
        const QJsonValue hlc = o.value(QLatin1String("hlc"));
        if (!(hlc.isUndefined() || hlc.isNull()))
            return bad(QStringLiteral("a missing key has no hlc"));
    } else {
        if (!isInteger(version) || version.toInteger() <= 0)
            return bad(QStringLiteral("version missing or not a positive integer"));
        response.version = version.toInteger();
        if (response.status == FetchResponse::Found) {
            if (!data.isObject())
                return bad(QStringLiteral("a found record needs a data object"));
            response.data = data.toObject();
        } else if (!noData) {
            return bad(QStringLiteral("a gone record has no data"));
        }
        if (!readHlc(o, &response.hlc))
            return bad(QStringLiteral("hlc is not a hybrid logical clock stamp"));
    }
    *out = std::move(response);
    return true;
}

SyncError errorFromResponse(int httpStatus, const QByteArray &body)
{
    SyncError::Code code;
    switch (httpStatus) {
    case 400:
    case 413:
    case 415:
        code = SyncError::Validation;
        break;
    case 401:
        code = SyncError::Unauthorized;
        break;
    case 403:
        code = SyncError::Forbidden;
        break;
    case 404:
    case 405:
    case 410:
        code = SyncError::Protocol;
        break;
    case 408:
    case 504:
        code = SyncError::Timeout;
        break;
    case 429:
        code = SyncError::RateLimited;
        break;
    default:
        code = httpStatus >= 500 ? SyncError::Network : SyncError::Protocol;
        break;
    }
    SyncError error(code, tr("The server answered with HTTP status %1.").arg(httpStatus));
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    SyncError parsed;
    if (doc.isObject() && parseError(doc.object().value(QLatin1String("error")), code, &parsed))
        error = SyncError(code, parsed.message(), parsed.detail());
    // Retriability follows the status (docs/protocol.md, Errors), whatever the body says.
    error.setRetryable(httpStatus == 413 || httpStatus == 429 || httpStatus == 408
                       || httpStatus == 401 || httpStatus >= 500);
    error.setHttpStatus(httpStatus);
    return error;
}

SyncError errorFromResponse(int httpStatus, const QString &code, const QString &message)
{
    const QJsonObject body { { QStringLiteral("error"),
                               QJsonObject { { QStringLiteral("code"), code },
                                             { QStringLiteral("message"), message } } } };
    return errorFromResponse(httpStatus, QJsonDocument(body).toJson(QJsonDocument::Compact));
}

qint64 parseRetryAfter(const QByteArray &value, const QDateTime &now)
{
    const QByteArray v = value.trimmed();
    if (v.isEmpty())
        return -1;
    bool ok = false;
    const qint64 seconds = v.toLongLong(&ok);
    if (ok)
        return seconds >= 0 && seconds <= 24 * 3600 ? seconds * 1000 : -1;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". Date and time are parsed apart and joined
    // as UTC: parsed as one local date-time, a time in the local zone's DST gap is invalid.
    const QString text = QString::fromLatin1(v);
    if (text.size() != 29 || text.at(16) != QLatin1Char(' ') || !text.endsWith(QLatin1String(" GMT")))
        return -1;
    const QDate date = QLocale::c().toDate(text.left(16), QStringLiteral("ddd, dd MMM yyyy"));
    const QTime time = QLocale::c().toTime(text.mid(17, 8), QStringLiteral("HH:mm:ss"));
    if (!date.isValid() || !time.isValid())
        return -1;
    return qMax<qint64>(0, now.msecsTo(QDateTime(date, time, Qt::UTC)));
}

} // namespace Protocol
} // namespace Synq
