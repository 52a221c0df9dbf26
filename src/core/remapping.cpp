// SPDX-License-Identifier: BSD-3-Clause
#include "remapping.h"

#include "identifier.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonArray>
#include <QtCore/QSet>

#include <cmath>

namespace Synq {
namespace Remapping {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("Synq::Remapping", text);
}

} // namespace

QVariantMap Relation::toVariantMap() const
{
    return { { QStringLiteral("from"), from() },
             { QStringLiteral("to"), target },
             { QStringLiteral("required"), required } };
}

QList<Relation> parseRelations(const QVariantList &entries, QString *error)
{
    QList<Relation> out;
    QSet<QString> fields;
    const auto refuse = [&](qsizetype i, const QString &why) {
        *error = tr("Relation %1: %2").arg(i).arg(why);
        return QList<Relation>();
    };
    for (qsizetype i = 0; i < entries.size(); ++i) {
        const QVariant &entry = entries.at(i);
        if (entry.metaType().id() != QMetaType::QVariantMap)
            return refuse(i, tr("not an object {from, to, required}"));
        const QVariantMap map = entry.toMap();
        for (auto it = map.cbegin(); it != map.cend(); ++it) {
            if (it.key() != u"from" && it.key() != u"to" && it.key() != u"required")
                return refuse(i, tr("unknown entry \"%1\"").arg(it.key()));
        }
        const QString from = map.value(QStringLiteral("from")).toString();
        const qsizetype dot = from.indexOf(QLatin1Char('.'));
        Relation r;
        r.collection = from.left(dot);
        r.field = dot < 0 ? QString() : from.mid(dot + 1);
        r.target = map.value(QStringLiteral("to")).toString();
        if (dot < 0 || !isValidIdentifier(r.collection) || !isValidIdentifier(r.field))
            return refuse(i, tr("\"from\" must be \"collection.field\", not \"%1\"").arg(from));
        if (!isValidIdentifier(r.target))
            return refuse(i, tr("\"to\" must be a collection name, not \"%1\"").arg(r.target));
        const QVariant required = map.value(QStringLiteral("required"), false);
        if (required.metaType().id() != QMetaType::Bool)
            return refuse(i, tr("\"required\" must be true or false"));
        r.required = required.toBool();
        if (fields.contains(from))
            return refuse(i, tr("%1 is in another relation already").arg(from));
        fields.insert(from);
        out.append(r);
    }
    error->clear();
    return out;
}

QStringList parentsFirst(const QStringList &collections, const QList<Relation> &relations)
{
    const QSet<QString> wanted(collections.cbegin(), collections.cend());
    QHash<QString, QStringList> targets; // collection -> the wanted collections it refers to
    for (const Relation &r : relations) {
        if (wanted.contains(r.collection) && wanted.contains(r.target) && r.target != r.collection)
            targets[r.collection].append(r.target);
    }
    const auto reaches = [&](const QString &from, const QString &to) {
        QSet<QString> seen { from };
        QStringList next { from };
        while (!next.isEmpty()) {
            const QString c = next.takeLast();
            for (const QString &t : targets.value(c)) {
                if (t == to)
                    return true;
                if (!seen.contains(t)) {
                    seen.insert(t);
                    next.append(t);
                }
            }
        }
        return false;
    };
    // Collections that refer to each other in a cycle go together, in the given order, after
    // everything any of them refers to outside the cycle. (The groups form no cycle, so the
    // recursion ends.)
    QStringList out;
    QSet<QString> placed;
    std::function<void(const QString &)> place = [&](const QString &c) {
        if (placed.contains(c))
            return;
        QStringList group;
        for (const QString &d : collections) {
            if (d == c || (reaches(c, d) && reaches(d, c)))
                group.append(d);
        }
        for (const QString &member : std::as_const(group))
            placed.insert(member);
        for (const QString &member : std::as_const(group)) {
            for (const QString &t : targets.value(member)) {
                if (!group.contains(t))
                    place(t);
            }
        }
        out.append(group);
    };
    for (const QString &c : collections)
        place(c);
    return out;
}

QString referenceKey(const QJsonValue &value)
{
    if (value.isString())
        return value.toString();
    if (value.isDouble()) {
        const double d = value.toDouble();
        if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9007199254740992.0)
            return QString::number(qint64(d));
    }
    return QString();
}

QList<Reference> references(const QString &collection, const QJsonObject &record,
                            const QList<Relation> &relations)
{
    QList<Reference> out;
    for (const Relation &r : relations) {
        if (r.collection != collection)
            continue;
        const auto it = record.constFind(r.field);
        if (it == record.constEnd())
            continue;
        if (const QString key = referenceKey(*it); !key.isEmpty())
            out.append({ r, key });
    }
    return out;
}

QStringList referencedItems(const MutationRecord &mutation, const QList<Relation> &relations)
{
    QStringList out;
    if (mutation.type == MutationType::Remove)
        return out;
    const QJsonObject &record =
            mutation.type == MutationType::Insert ? mutation.modified : mutation.changes;
    for (const Reference &ref : references(mutation.collection, record, relations))
        out.append(itemId(ref.relation.target, ref.key));
    return out;
}

KeyChanges::KeyChanges(const QList<KeyChange> &changes)
{
    for (const KeyChange &c : changes) {
        if (c.clientKey.isEmpty() || c.serverKey.isEmpty() || c.clientKey == c.serverKey)
            continue;
        m_list.append(c);
        m_byItem.insert(itemId(c.collection, c.clientKey), c.serverKey);
        m_byKey.insert(c.clientKey, c.serverKey);
    }
    // A server key that is also a client key here would make the result depend on the order
    // of application: such changes are dropped.
    m_list.removeIf([this](const KeyChange &c) {
        if (!m_byKey.contains(c.serverKey))
            return false;
        m_byItem.remove(itemId(c.collection, c.clientKey));
        return true;
    });
    m_byKey.clear();
    for (const KeyChange &c : std::as_const(m_list))
        m_byKey.insert(c.clientKey, c.serverKey);
}

QString KeyChanges::resolve(const QString &collection, const QString &key) const
{
    return m_byItem.value(itemId(collection, key), key);
}

bool KeyChanges::apply(QJsonValue &value) const
{
    switch (value.type()) {
    case QJsonValue::String: {
        const auto it = m_byKey.constFind(value.toString());
        if (it == m_byKey.cend())
            return false;
        value = *it;
        return true;
    }
    case QJsonValue::Object: {
        QJsonObject object = value.toObject();
        if (!apply(object))
            return false;
        value = object;
        return true;
    }
    case QJsonValue::Array: {
        QJsonArray array = value.toArray();
        bool changed = false;
        for (qsizetype i = 0; i < array.size(); ++i) {
            QJsonValue element = array.at(i);
            if (apply(element)) {
                array.replace(i, element);
                changed = true;
            }
        }
        if (changed)
            value = array;
        return changed;
    }
    default:
        return false;
    }
}

bool KeyChanges::apply(QJsonObject &object) const
{
    if (m_list.isEmpty())
        return false;
    bool changed = false;
    for (auto it = object.begin(); it != object.end(); ++it) {
        QJsonValue value = it.value();
        if (apply(value)) {
            it.value() = value;
            changed = true;
        }
    }
    return changed;
}

bool KeyChanges::apply(MutationRecord &mutation) const
{
    if (m_list.isEmpty())
        return false;
    bool changed = false;
    const auto server = m_byItem.constFind(itemId(mutation.collection, mutation.key));
    if (server != m_byItem.cend()) {
        mutation.key = *server;
        changed = true;
    }
    changed |= apply(mutation.original);
    changed |= apply(mutation.modified);
    changed |= apply(mutation.changes);
    return changed;
}

bool KeyChanges::apply(TransactionRecord &transaction) const
{
    bool changed = false;
    for (MutationRecord &m : transaction.mutations)
        changed |= apply(m);
    return changed;
}

bool KeyChanges::apply(ConflictRecord &conflict) const
{
    if (m_list.isEmpty())
        return false;
    bool changed = false;
    const auto server = m_byItem.constFind(itemId(conflict.collection, conflict.key));
    if (server != m_byItem.cend()) {
        conflict.key = *server;
        changed = true;
    }
    for (std::optional<QJsonObject> *record : { &conflict.local, &conflict.server, &conflict.base }) {
        if (*record)
            changed |= apply(**record);
    }
    return changed;
}

bool KeyChanges::applyToRow(const QString &collection, const QString &keyField, QJsonObject &row,
                            const QList<Relation> &relations) const
{
    if (m_list.isEmpty())
        return false;
    bool changed = false;
    const auto rewrite = [&](const QString &field, const QString &target) {
        const auto it = row.find(field);
        if (it == row.end())
            return;
        const auto server = m_byItem.constFind(itemId(target, referenceKey(it.value())));
        if (server == m_byItem.cend())
            return;
        it.value() = *server;
        changed = true;
    };
    if (!keyField.isEmpty())
        rewrite(keyField, collection);
    for (const Relation &r : relations) {
        if (r.collection == collection)
            rewrite(r.field, r.target);
    }
    return changed;
}

QVariantMap Orphan::toVariantMap() const
{
    return { { QStringLiteral("collection"), collection },
             { QStringLiteral("key"), key },
             { QStringLiteral("field"), relation.field },
             { QStringLiteral("target"), relation.target },
             { QStringLiteral("missingKey"), missingKey },
             { QStringLiteral("required"), relation.required } };
}

QList<Orphan> orphans(const QString &collection, const QList<Row> &rows,
                      const QList<Relation> &relations,
                      const std::function<bool(const QString &, const QString &)> &exists)
{
    QList<Orphan> out;
    for (const Row &row : rows) {
        for (const Reference &ref : references(collection, row.record, relations)) {
            if (!exists(ref.relation.target, ref.key))
                out.append({ collection, row.key, ref.relation, ref.key });
        }
    }
    return out;
}

} // namespace Remapping
} // namespace Synq
